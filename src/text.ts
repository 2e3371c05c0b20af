/**
 * The storable-text rule, shared by request schemas in every layer (catalog
 * documents as well as HTTP-only bodies), so that one rule covers every
 * string Custos stores.
 */
import { z } from 'zod';

/**
 * Free text that can be stored and logged as it is: no NUL and no lone
 * surrogate. PostgreSQL refuses NUL in text and both in jsonb, and a text
 * column silently turns a lone surrogate into U+FFFD — so such text could
 * commit a change whose audit event then cannot be written. Refusing it
 * up front makes it a 400 before anything is written.
 */
export function storableText(max: number) {
  return z.string().max(max).refine(isStorable, 'text without NUL or lone surrogates');
}

/** Whether a string obeys the storable-text rule. */
export function isStorable(v: string): boolean {
  return !v.includes('\0') && v.isWellFormed();
}
