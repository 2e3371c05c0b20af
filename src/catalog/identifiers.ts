/**
 * The 18 HIPAA Safe Harbor identifier categories, §164.514(b)(2)(i)(A)–(R),
 * and the vocabulary of purposes of use. A dataset column may carry at most
 * one category; classification is derived from them (classification.ts).
 */

/** Identifier categories in the order of §164.514(b)(2)(i). */
export const IDENTIFIER_CATEGORIES = [
  'names', // (A)
  'geographic', // (B) subdivisions smaller than a state
  'dates', // (C) all elements of dates (except year) and ages over 89
  'phone', // (D)
  'fax', // (E)
  'email', // (F)
  'ssn', // (G)
  'mrn', // (H) medical record numbers
  'health-plan-beneficiary', // (I)
  'account-number', // (J)
  'certificate-license', // (K)
  'vehicle-id', // (L) vehicle identifiers and serial numbers, incl. licence plates
  'device-id', // (M)
  'url', // (N)
  'ip-address', // (O)
  'biometric', // (P) finger and voice prints
  'full-face-photo', // (Q) and comparable images
  'other-unique-id', // (R) any other unique identifying number, characteristic or code
] as const;

/** One of the 18 Safe Harbor identifier categories. */
export type IdentifierCategory = (typeof IDENTIFIER_CATEGORIES)[number];

/**
 * Identifiers a limited data set may keep, §164.514(e)(2): dates and
 * geography above street level (town, state, five-digit ZIP). Everything
 * else must be removed.
 */
export const LIMITED_DATA_SET_CATEGORIES: ReadonlySet<IdentifierCategory> = new Set(['dates', 'geographic']);

/** Purposes of use every access must name. */
export const PURPOSES = ['model-training', 'model-evaluation', 'research', 'operations', 'emergency'] as const;

/** A purpose of use. */
export type Purpose = (typeof PURPOSES)[number];

/** Derived dataset classifications. */
export const CLASSIFICATIONS = ['deidentified', 'limited', 'phi'] as const;

/** A derived dataset classification. */
export type Classification = (typeof CLASSIFICATIONS)[number];
