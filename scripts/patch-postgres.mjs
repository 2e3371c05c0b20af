/**
 * Patches postgres.js 3.4.9 in node_modules (run by `postinstall`, so after
 * every `npm install` / `npm ci`; idempotent). Two defects of its
 * connection.js, open upstream, made Custos unable to recover from a
 * database fault by itself (docs/operations.md, "Faults"):
 *
 * 1. A connection that closes while a write is pending (queued for
 *    setImmediate, as every write under 1 KiB is) keeps that stale buffer
 *    and a stale timer: no later write is ever sent, so each reconnection
 *    waits for connect_timeout (5 s) and fails, forever
 *    (porsager/postgres#1215). Under load, terminating every connection
 *    left about one pooled connection in four like this.
 * 2. A write after the close dereferences the null socket in a
 *    setImmediate and throws, uncaught: the process dies
 *    (porsager/postgres#1208, #1209). src/db/transaction.ts keeps
 *    Custos's own transactions from writing after a close; this guard
 *    turns any other such write into a rejected query.
 *
 * 3. A connection killed while it looks up the array types (the internal
 *    query of every new connection) rejected that query unobserved, or
 *    kept its error for the next backend, which then rejected it there:
 *    an unhandled rejection, and the process died. The lookup's failure
 *    is now observed (and the lookup made again on the next connection).
 *
 * Also (part of #1215): the query and error of the connection that closed
 * are cleared, so the first query on the reconnected connection does not
 * fail with the old backend's error.
 *
 * Each edit replaces an exact piece of text: if the installed version is
 * not 3.4.9 or the text is not found (an upgrade), this stops the install
 * with a message, so the patch is looked at again rather than silently
 * dropped. Plain JavaScript (not TypeScript) so it runs on whatever
 * Node.js runs npm. test/db/postgresPatch.test.ts checks it is in force.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import process from 'node:process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const VERSION = '3.4.9';
const MARK = 'custos-patch';
/** The ESM build (what Custos loads), the CommonJS and the Cloudflare builds. */
const FILES = ['src/connection.js', 'cjs/src/connection.js', 'cf/src/connection.js'];

const EDITS = [
  {
    what: 'a close drops the pending write (#1215)',
    from: `    clearImmediate(nextWriteTimer)
    socket.removeListener('data', data)`,
    to: `    clearImmediate(nextWriteTimer)
    chunk = nextWriteTimer = null // ${MARK}: the write died with the socket; kept, it blocked every later one
    socket.removeListener('data', data)`,
  },
  {
    what: "the closed connection's query and error are not the next one's (#1215)",
    from: `    if (initial)
      return reconnect()

    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))
    closedTime = performance.now()`,
    to: `    if (initial) { // ${MARK}: closed while connecting: its internal query (the array types) fails now, its error is not the next backend's
      query && queryError(query, Errors.connection('CONNECTION_CLOSED', options))
      query = errorResponse = null
      return reconnect()
    }

    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))
    query = errorResponse = null // ${MARK}: rejected above (or by the socket error); the next backend starts clean
    closedTime = performance.now()`,
  },
  {
    what: 'a failed lookup of the array types is observed (its rejection was unhandled: the process died)',
    from: `        initial.reserve && (initial = null)
        return fetchArrayTypes()`,
    to: `        initial.reserve && (initial = null)
        return fetchArrayTypes().catch(() => { needsTypes = options.fetch_types }) // ${MARK}: looked up again on the next connection`,
  },
  {
    what: 'a write after the close rejects its query instead of throwing (#1208)',
    from: `  function nextWrite(fn) {
    const x = socket.write(chunk, fn)`,
    to: `  function nextWrite(fn) {
    if (!socket) { // ${MARK}: the socket closed since this write was queued: fail its queries, never throw
      chunk = nextWriteTimer = null
      const err = Errors.connection('CONNECTION_CLOSED', options)
      query && (queryError(query, err), query = null)
      while (sent.length) queryError(sent.shift(), err)
      return false
    }
    const x = socket.write(chunk, fn)`,
  },
];

/** Applies the edits under `root` (the postgres package folder); returns what it did per file. */
export function patchPostgres(root) {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  if (pkg.version !== VERSION) {
    throw new Error(`postgres ${pkg.version} is installed; scripts/patch-postgres.mjs patches ${VERSION} only. Check whether the defects it fixes are fixed upstream, then update or remove the patch.`);
  }
  return FILES.map((file) => {
    const full = path.join(root, file);
    let text = readFileSync(full, 'utf8');
    if (text.includes(MARK)) return `${file}: already patched`;
    for (const e of EDITS) {
      if (text.split(e.from).length !== 2) throw new Error(`${file}: the text to patch (${e.what}) was not found once; review scripts/patch-postgres.mjs`);
      text = text.replace(e.from, e.to);
    }
    writeFileSync(full, text);
    return `${file}: patched`;
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const root = process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'postgres');
  try {
    for (const line of patchPostgres(root)) process.stdout.write(`patch-postgres: ${line}\n`);
  } catch (err) {
    process.stderr.write(`patch-postgres: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
