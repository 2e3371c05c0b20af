/**
 * Not a store: the catalog's PostgreSQL implementation is in postgres/. The
 * cursor functions (cursor.ts) are re-exported here for src/http/routes/grants.ts;
 * remove this file once that route imports catalog/cursor.ts.
 */
export { decodeCursor, encodeCursor } from './cursor.ts';
