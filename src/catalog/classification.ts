/**
 * Derives a dataset's classification from its column schema and records.
 * Never typed in by a person: a wrong label is how PHI leaks.
 */
import { LIMITED_DATA_SET_CATEGORIES, type Classification, type IdentifierCategory } from './identifiers.ts';

/** The inputs that decide a classification. */
export interface ClassificationInput {
  columns: readonly { name: string; category?: IdentifierCategory | null | undefined }[];
  expertDetermination?: { determinedOn: string; expiresOn: string } | null | undefined;
  dataUseAgreement?: { signedOn: string; expiresOn: string } | null | undefined;
}

/** Why the classification is what it is. */
export type ClassificationBasis =
  | 'safe-harbor' // no identifier column at all, §164.514(b)(2)
  | 'expert-determination' // a current expert determination, §164.514(b)(1)
  | 'limited-data-set' // only dates/geography, under a current data use agreement, §164.514(e)
  | 'identifiers-present';

/** Result of {@link deriveClassification}. */
export interface DerivedClassification {
  classification: Classification;
  basis: ClassificationBasis;
  /** Identifier categories present in the schema, sorted, without repeats. */
  identifierCategories: IdentifierCategory[];
}

/** `today` is a UTC calendar date `YYYY-MM-DD`; a record is current on [from, until). */
function current(from: string, until: string, today: string): boolean {
  return from <= today && today < until;
}

/**
 * Classifies a dataset at a given date (`today`, `YYYY-MM-DD`, UTC). Pure:
 * the caller supplies the date, so expiry is decided at use.
 */
export function deriveClassification(input: ClassificationInput, today: string): DerivedClassification {
  const cats = new Set<IdentifierCategory>();
  for (const c of input.columns) if (c.category) cats.add(c.category);
  const identifierCategories = [...cats].sort();
  if (cats.size === 0) return { classification: 'deidentified', basis: 'safe-harbor', identifierCategories };
  const ed = input.expertDetermination;
  if (ed && current(ed.determinedOn, ed.expiresOn, today)) {
    return { classification: 'deidentified', basis: 'expert-determination', identifierCategories };
  }
  const dua = input.dataUseAgreement;
  const onlyLimited = identifierCategories.every((c) => LIMITED_DATA_SET_CATEGORIES.has(c));
  if (onlyLimited && dua && current(dua.signedOn, dua.expiresOn, today)) {
    return { classification: 'limited', basis: 'limited-data-set', identifierCategories };
  }
  return { classification: 'phi', basis: 'identifiers-present', identifierCategories };
}

/** Today's UTC date as `YYYY-MM-DD` for a clock reading. */
export function utcDate(now: Date): string {
  return now.toISOString().slice(0, 10);
}
