/**
 * Keyset cursors of the catalog's listings (and the workflow's): opaque to
 * clients, the last id of the previous page underneath.
 */
import { ValidationError } from '../errors.ts';

/** Opaque keyset cursor: the last id of the previous page. */
export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

/** Decodes a cursor made by {@link encodeCursor}; refuses anything else. */
export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const id = /^[A-Za-z0-9_-]{1,300}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (!/^[a-z0-9][a-z0-9._@-]{0,127}$|^[0-9a-f-]{36}$/.test(id)) {
    throw new ValidationError('The cursor is not valid.', [{ path: 'query.cursor', message: 'not a cursor from this API' }]);
  }
  return id;
}
