/**
 * The problem renderer of the one error mapper (errorMapper.ts): RFC 9457
 * problem documents with a stable `code`, the default for every route. The
 * client gets the failure's safe message and the request id to quote; the
 * details went to the log.
 */
import type { ServerResponse } from 'node:http';
import type { ErrorCode } from '../errors.ts';
import type { OAuthErrorCode } from '../tokens/oauthError.ts';
import type { Failure } from './errorMapper.ts';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** An RFC 9457 problem document as Custos sends it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  request_id: string;
  errors?: { path: string; message: string }[];
  /** Policy edits: where the policy is invalid (`issues`) or which of its tests fail (`failures`). */
  [extension: string]: unknown;
}

/** Builds the problem document for a code. */
export function problem(status: number, code: ErrorCode | OAuthErrorCode, detail: string, requestId: string): Problem {
  return { type: `urn:custos:problem:${code}`, title: TITLES[status] ?? 'Error', status, code, detail, request_id: requestId };
}

/** Sends a problem document (with node's own response API: it serves the lean hot path too). */
export function sendProblem(res: ServerResponse, p: Problem): void {
  const text = JSON.stringify(p);
  res.statusCode = p.status;
  res.setHeader('Content-Type', 'application/problem+json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/** Renders a failure as a problem document, with the headers its status calls for. */
export function renderProblem(res: ServerResponse, f: Failure, requestId: string): void {
  const p = problem(f.status, f.code, f.message, requestId);
  if (f.issues) p.errors = f.issues;
  // Extension members (RFC 9457 §3.2) never replace the standard ones.
  if (f.extensions) for (const [k, v] of Object.entries(f.extensions)) if (!(k in p)) p[k] = v;
  if (f.retryAfter !== undefined) res.setHeader('Retry-After', String(f.retryAfter));
  if (f.headers) for (const k in f.headers) res.setHeader(k, f.headers[k]!);
  // RFC 9110 §15.5.2: a 401 names the scheme that would work.
  if (f.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="custos"');
  // Do not wait for the rest of an oversized upload: answer and close.
  if (f.close) res.setHeader('Connection', 'close');
  sendProblem(res, p);
}

/** The path of a request, without its query (express's req.path, for plain node requests too). */
export function pathOf(req: { url?: string | undefined }): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
