/**
 * What the log must never carry: the values of secret-bearing keys (at the
 * top of a line, or one level down in any object logged), and credentials
 * in request headers, whatever the caller passed.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.ts';

function logged(): { log: ReturnType<typeof createLogger>; lines: Record<string, unknown>[]; text: string[] } {
  const lines: Record<string, unknown>[] = [];
  const text: string[] = [];
  const log = createLogger({
    level: 'info',
    destination: new Writable({
      write(chunk: Buffer, _enc, cb) {
        text.push(chunk.toString());
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        cb();
      },
    }),
  });
  return { log, lines, text };
}

const SECRET = 's3cr3t-value';

describe('log redaction', () => {
  it('censors secret keys at the top of a line', () => {
    const { log, lines, text } = logged();
    log.info({ password: SECRET, client_secret: SECRET, token: SECRET, access_token: SECRET, refresh_token: SECRET, mfa_token: SECRET, secret: SECRET, enrollment_secret: SECRET, key: SECRET, code: SECRET, user: 'ana' }, 'login');
    const [line] = lines;
    for (const k of ['password', 'client_secret', 'token', 'access_token', 'refresh_token', 'mfa_token', 'secret', 'enrollment_secret', 'key', 'code']) expect(line![k]).toBe('[redacted]');
    expect(line!.user).toBe('ana');
    expect(line!.msg).toBe('login');
    expect(text.join('')).not.toContain(SECRET);
  });

  it('censors them one level down in any object, keeping the rest', () => {
    const { log, lines, text } = logged();
    log.info({ body: { client_id: 'job-7', client_secret: SECRET, grant_type: 'client_credentials' }, form: { password: SECRET, code: SECRET }, list: [1, 2] });
    const [line] = lines;
    expect(line!.body).toEqual({ client_id: 'job-7', client_secret: '[redacted]', grant_type: 'client_credentials' });
    expect(line!.form).toEqual({ password: '[redacted]', code: '[redacted]' });
    expect(line!.list).toEqual([1, 2]);
    expect(text.join('')).not.toContain(SECRET);
  });

  it('censors credentials in request headers, keeping the others', () => {
    const { log, lines, text } = logged();
    log.info({ req: { method: 'POST', headers: { authorization: `Bearer ${SECRET}`, cookie: `sid=${SECRET}`, accept: 'application/json' } } });
    log.info({ headers: { authorization: `Basic ${SECRET}`, cookie: SECRET, 'user-agent': 'curl' } });
    expect(lines[0]!.req).toEqual({ method: 'POST', headers: { authorization: '[redacted]', cookie: '[redacted]', accept: 'application/json' } });
    expect(lines[1]!.headers).toEqual({ authorization: '[redacted]', cookie: '[redacted]', 'user-agent': 'curl' });
    expect(text.join('')).not.toContain(SECRET);
  });

  it('serializes errors as before and censors their secret-bearing properties', () => {
    const { log, lines, text } = logged();
    const err = Object.assign(new TypeError('bad input'), { code: SECRET, detail: 'row 3' });
    log.error({ err }, 'failed');
    log.error(err, 'failed again');
    for (const line of lines) {
      const e = line.err as Record<string, unknown>;
      expect(e.type).toBe('TypeError');
      expect(e.message).toBe('bad input');
      expect(String(e.stack)).toContain('TypeError: bad input');
      expect(e.code).toBe('[redacted]');
      expect(e.detail).toBe('row 3');
    }
    expect(lines[1]!.msg).toBe('failed again');
    expect(text.join('')).not.toContain(SECRET);
    // The caller's error is left as it was.
    expect(err.code).toBe(SECRET);
  });

  it("censors a child logger's bindings", () => {
    const { log, lines, text } = logged();
    log.child({ worker: 2, token: SECRET, session: { key: SECRET, id: 's1' } }).info('bound');
    expect(lines[0]).toMatchObject({ worker: 2, token: '[redacted]', session: { key: '[redacted]', id: 's1' }, msg: 'bound' });
    expect(text.join('')).not.toContain(SECRET);
  });

  it("never changes the caller's objects", () => {
    const { log } = logged();
    const body = { client_secret: SECRET };
    const headers = { authorization: SECRET };
    const line = { password: SECRET, body, req: { headers } };
    log.info(line);
    expect(line.password).toBe(SECRET);
    expect(body.client_secret).toBe(SECRET);
    expect(headers.authorization).toBe(SECRET);
    expect(line.body).toBe(body);
  });

  it('leaves a line with nothing secret exactly as given', () => {
    const { log, lines } = logged();
    log.info({ requestId: 'r1', method: 'POST', path: '/v1/decisions', status: 200, ms: 1.25 }, 'request');
    expect(lines[0]).toMatchObject({ level: 'info', service: 'custos', requestId: 'r1', method: 'POST', path: '/v1/decisions', status: 200, ms: 1.25, msg: 'request' });
  });
});
