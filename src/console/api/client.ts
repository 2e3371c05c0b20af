/**
 * Every call the console makes to Custos goes through `api()`: same origin,
 * JSON in and out, the session's bearer token added.
 *
 * - A 401 `unauthenticated` with a refresh token at hand refreshes once and
 *   retries; if that fails the session is over and the sign-in page shows.
 * - A 401 `step_up_required` asks the person for a fresh second factor (the
 *   dialog registered with `setStepUpHandler`) and retries once it succeeds.
 * - Any other refusal is thrown as an ApiError carrying the problem document,
 *   whose `detail` is what the page shows.
 */
import { accessToken, clearSession, saveSession, storedRefreshToken, type SessionTokens } from './session.ts';

export interface Problem {
  status: number;
  code: string;
  title?: string;
  detail?: string;
  request_id?: string;
  errors?: { path: string; message: string }[];
  [k: string]: unknown;
}

export class ApiError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail ?? problem.title ?? problem.code);
    this.problem = problem;
  }
  get status(): number {
    return this.problem.status;
  }
  get code(): string {
    return this.problem.code;
  }
}

export interface CallOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined | null>;
  headers?: Record<string, string>;
  /** Give back the raw Response (downloads, ETags) instead of parsed JSON. */
  raw?: boolean;
  /** No session: the sign-in steps. */
  anonymous?: boolean;
  signal?: AbortSignal;
}

type StepUpHandler = () => Promise<boolean>;
let stepUpHandler: StepUpHandler | undefined;
/** The dialog that asks for a fresh code or passkey; resolves true once stepped up. */
export function setStepUpHandler(h: StepUpHandler | undefined): void {
  stepUpHandler = h;
}

export function withQuery(path: string, query: CallOptions['query']): string {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

let refreshing: Promise<boolean> | undefined;
/** One refresh at a time: refresh tokens are single use, and a second use would end the session. */
export function refresh(): Promise<boolean> {
  refreshing ??= (async () => {
    const rt = storedRefreshToken();
    if (!rt) return false;
    const res = await fetch('/v1/auth/refresh', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: rt }) });
    if (!res.ok) {
      clearSession();
      return false;
    }
    saveSession((await res.json()) as SessionTokens);
    return true;
  })().finally(() => {
    refreshing = undefined;
  });
  return refreshing;
}

async function problemOf(res: Response): Promise<Problem> {
  const text = await res.text();
  try {
    const p = JSON.parse(text) as Partial<Problem> & { error?: string; error_description?: string };
    return { ...p, status: res.status, code: p.code ?? p.error ?? 'error', detail: p.detail ?? p.error_description } as Problem;
  } catch {
    return { status: res.status, code: 'error', detail: `${res.status} ${res.statusText}` };
  }
}

async function send(method: string, path: string, o: CallOptions): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json', ...o.headers };
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  if (!o.anonymous) {
    if (!accessToken() && storedRefreshToken()) await refresh();
    const t = accessToken();
    if (t) headers.authorization = `Bearer ${t}`;
  }
  return fetch(withQuery(path, o.query), { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body), signal: o.signal });
}

export async function api<T = any>(method: string, path: string, o: CallOptions = {}): Promise<T> {
  let res = await send(method, path, o);
  if (res.status === 401 && !o.anonymous) {
    let p = await problemOf(res.clone());
    if (p.code === 'unauthenticated' && (await refresh())) {
      res = await send(method, path, o);
      // The refreshed session may still lack a fresh second factor for this action: ask for it too.
      if (res.status === 401) p = await problemOf(res.clone());
    }
    if (res.status === 401 && p.code === 'step_up_required' && stepUpHandler && (await stepUpHandler())) res = await send(method, path, o);
    if (res.status === 401 && (await problemOf(res.clone())).code === 'unauthenticated') clearSession();
  }
  if (!res.ok) throw new ApiError(await problemOf(res));
  if (o.raw) return res as unknown as T;
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') ?? '';
  return (type.includes('json') ? await res.json() : await res.text()) as T;
}

/** A file the server sends (CSV, JSON export), saved through a temporary object URL. */
export async function download(path: string, query: CallOptions['query'], fallbackName: string): Promise<void> {
  const res = await api<Response>('GET', path, { query, raw: true, headers: { accept: '*/*' } });
  const name = /filename="?([^";]+)"?/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
