/**
 * `custos policy push | rollback | history | simulate` and `diff --server`:
 * against a running server, authenticated with a session token (`--token`
 * or CUSTOS_TOKEN). Edits need a session whose second factor is recent
 * (step-up).
 */
import type { Command } from 'commander';
import { CustosError, isErrorCode } from '../errors.ts';
import type { PolicyDiff } from '../policy/diff.ts';
import { readPolicyFolder } from '../policy/loadLivePolicy.ts';
import { POLICIES_DIR } from '../policy/loadDefaultRoles.ts';
import type { PolicyTestFailure } from '../policy/policyTests.ts';
import type { SimulationReport } from '../policy/simulate.ts';
import { formatDiff, formatSimulation, formatTestReport, green, red, withSpinner } from './policyFormat.ts';

/** Where and as whom. */
interface Remote {
  server: string;
  token: string;
}

/** The server answered with a problem document. */
class RemoteError extends CustosError {
  readonly status: number;
  readonly body: Record<string, unknown>;
  constructor(
    status: number,
    body: Record<string, unknown>,
  ) {
    super(isErrorCode(body.code) ? body.code : 'internal_error', `${status} ${typeof body.detail === 'string' ? body.detail : JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
  }
}

function remoteOf(o: { server?: string; token?: string }): Remote {
  const server = o.server ?? process.env.CUSTOS_SERVER;
  const token = o.token ?? process.env.CUSTOS_TOKEN;
  if (!server) throw new CustosError('invalid_request', 'Name the server: --server URL (or CUSTOS_SERVER).');
  if (!token) throw new CustosError('invalid_request', 'A session token is needed: --token or CUSTOS_TOKEN (from POST /v1/auth/totp).');
  return { server: server.replace(/\/+$/, ''), token };
}

async function call<T>(r: Remote, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ body: T; headers: Headers; status: number }> {
  const res = await fetch(r.server + path, {
    method,
    headers: { authorization: `Bearer ${r.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = { detail: text.slice(0, 200) };
  }
  if (!res.ok) throw new RemoteError(res.status, (parsed ?? {}) as Record<string, unknown>);
  return { body: parsed as T, headers: res.headers, status: res.status };
}

/** Prints what a refused edit says (issues, failing tests) and sets the exit code. */
function reportRefusal(err: unknown): void {
  if (!(err instanceof RemoteError)) throw err;
  const b = err.body;
  process.stderr.write(red(`refused: ${err.message}`) + '\n');
  if (Array.isArray(b.issues)) for (const i of b.issues as { document: string; rule?: string; field?: string; message: string }[]) process.stdout.write(`  ${[i.document, i.rule, i.field].filter(Boolean).join(' › ')}: ${i.message}\n`);
  if (Array.isArray(b.failures)) {
    const tests = (b.tests ?? {}) as { files?: number; cases?: number; passed?: number };
    process.stdout.write(formatTestReport({ ok: false, files: tests.files ?? 0, cases: tests.cases ?? 0, passed: tests.passed ?? 0, failures: b.failures as PolicyTestFailure[] }));
  }
  if (b.code === 'step_up_required') process.stderr.write('  prove a second factor again (POST /v1/auth/step-up/totp) and retry.\n');
  process.exitCode = err.status === 409 ? 3 : 1;
}

const serverOptions = (c: Command) => c.option('--server <url>', 'Custos base URL (or CUSTOS_SERVER)').option('--token <token>', 'session token (or CUSTOS_TOKEN)');

type Shown = { version: number; digest: string; author_id: string | null; created_at: string; comment: string | null; rollback_of: number | null; changed_rules?: string[] };
const line = (v: Shown) => `version ${v.version}  ${v.created_at}  ${v.author_id ?? '(seeded)'}  ${v.digest.slice(0, 12)}${v.rollback_of ? `  rollback of ${v.rollback_of}` : ''}${v.comment ? `  "${v.comment}"` : ''}`;

/** A change the server holds for a second administrator (HTTP 202). */
interface HeldChange {
  id: string;
  expires_at: string;
}

/** What to print when a push changes test files and waits for a second administrator. */
function heldLine(c: HeldChange): string {
  return `held for a second administrator: change ${c.id} (expires ${c.expires_at}); another administrator approves it with POST /v1/changes/${c.id}/approve\n`;
}

/** Registers the remote subcommands on `custos policy`. */
export function registerPolicyRemote(policy: Command): void {
  serverOptions(
    policy
      .command('push')
      .description('push the rule documents and tests of a folder as the next version (the server runs the tests first)')
      .option('--dir <folder>', 'folder with rules/*.yaml and tests/*.yaml', POLICIES_DIR)
      .option('-m, --comment <text>', 'why'),
  ).action(async (o: { dir: string; comment?: string; server?: string; token?: string }) => {
    const r = remoteOf(o);
    const files = await readPolicyFolder(o.dir);
    const live = await call<Shown>(r, 'GET', '/v1/policy');
    const etag = live.headers.get('etag') ?? '';
    try {
      const res = await call<Shown>(r, 'PUT', '/v1/policy', { ...files, ...(o.comment ? { comment: o.comment } : {}) }, { 'if-match': etag });
      if (res.status === 202) return void process.stdout.write(heldLine(res.body as unknown as HeldChange));
      process.stdout.write(green(`pushed: ${line(res.body)}`) + `\n  changed rules: ${res.body.changed_rules?.join(', ') || '(none)'}\n`);
    } catch (err) {
      reportRefusal(err);
    }
  });

  serverOptions(policy.command('rollback <version>').description('make an earlier version live again (as a new version)').option('-m, --comment <text>', 'why')).action(
    async (version: string, o: { comment?: string; server?: string; token?: string }) => {
      const r = remoteOf(o);
      // The server requires If-Match: the rollback replaces the version read here, never a later edit.
      const live = await call<Shown>(r, 'GET', '/v1/policy');
      try {
        const res = await call<Shown>(r, 'POST', '/v1/policy/rollback', { version: Number(version), ...(o.comment ? { comment: o.comment } : {}) }, { 'if-match': live.headers.get('etag') ?? '' });
        if (res.status === 202) return void process.stdout.write(heldLine(res.body as unknown as HeldChange));
        process.stdout.write(green(`rolled back: ${line(res.body)}`) + `\n  changed rules: ${res.body.changed_rules?.join(', ') || '(none)'}\n`);
      } catch (err) {
        reportRefusal(err);
      }
    },
  );

  serverOptions(policy.command('history').description('list policy versions, newest first').option('--limit <n>', 'how many', '20').option('--json', 'print JSON')).action(
    async (o: { limit: string; json?: boolean; server?: string; token?: string }) => {
      const r = remoteOf(o);
      const res = await call<{ items: Shown[] }>(r, 'GET', `/v1/policy/versions?limit=${Number(o.limit)}`);
      if (o.json) process.stdout.write(JSON.stringify(res.body, null, 2) + '\n');
      else for (const v of res.body.items) process.stdout.write(line(v) + '\n');
    },
  );

  serverOptions(
    policy
      .command('simulate')
      .description('replay logged decision requests against the rules of a folder and report the decisions that would flip')
      .option('--dir <folder>', 'folder with rules/*.yaml', POLICIES_DIR)
      .option('--from <time>', 'start (ISO 8601; default: 7 days before --to)')
      .option('--to <time>', 'end (ISO 8601; default: now)')
      .option('--limit <n>', 'at most this many requests (≤ 100000)')
      .option('--json', 'print the report as JSON'),
  ).action(async (o: { dir: string; from?: string; to?: string; limit?: string; json?: boolean; server?: string; token?: string }) => {
    const r = remoteOf(o);
    const { documents } = await readPolicyFolder(o.dir);
    const body = { documents, ...(o.from ? { from: new Date(o.from).toISOString() } : {}), ...(o.to ? { to: new Date(o.to).toISOString() } : {}), ...(o.limit ? { limit: Number(o.limit) } : {}) };
    const res = await withSpinner('replaying logged decisions', call<SimulationReport>(r, 'POST', '/v1/policy/simulate', body));
    process.stdout.write(o.json ? JSON.stringify(res.body, null, 2) + '\n' : formatSimulation(res.body));
  });
}

/** `custos policy diff --server --from n [--to m]`. */
export async function remoteDiff(o: { from: string; to?: string; server?: string; token?: string }): Promise<void> {
  const r = remoteOf(o);
  const res = await call<PolicyDiff & { from: number; to: number }>(r, 'GET', `/v1/policy/diff?from=${Number(o.from)}${o.to ? `&to=${Number(o.to)}` : ''}`);
  process.stdout.write(formatDiff(res.body, { from: `version ${res.body.from}`, to: `version ${res.body.to}` }));
}
