/**
 * The route contract as the runner keeps it, on node's own request and
 * response (as the hot lane serves it) over real HTTP: a handler sees
 * headers and validated input only, answers with status, headers and a JSON
 * body or a stream, and the runner does the rest — headers first, the end,
 * a client that goes away, a stream that breaks after its headers went out.
 */
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { writeExport } from '../../src/audit/export.ts';
import { errorResponder } from '../../src/http/errorMapper.ts';
import { defineRoute, type AnyRoute } from '../../src/http/route.ts';
import { routeHandler } from '../../src/http/runner.ts';
import { withLocals } from '../../src/http/transport.ts';
import { capturedLog } from '../support/capturedLog.ts';

const { log, lines: logs } = capturedLog();
const respond = errorResponder(log, () => false);

let server: Server;
let route: AnyRoute;
/** What the runner awaits after a write (the facts catching up, in the service). */
let afterWrite: () => Promise<void> = async () => {};

beforeAll(async () => {
  server = createServer((req, res) => {
    withLocals(res);
    res.locals.requestId = 'req-1';
    routeHandler(route, async () => undefined, { afterWrite: () => afterWrite() })(req, res, (err) => respond(err ?? new Error('no answer'), res, req));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function send(headers: Record<string, string> = {}, method = 'GET'): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, method, path: '/r', headers }, resolve);
    req.on('error', reject);
    req.end();
  });
}

async function text(res: IncomingMessage): Promise<string> {
  let t = '';
  res.setEncoding('utf8');
  for await (const c of res) t += c as string;
  return t;
}

const base = { method: 'get', path: '/r', summary: 'test', tag: 'test', auth: { kind: 'public' }, responses: { 200: { description: 'ok' } } } as const;

describe('a JSON answer', () => {
  it('gives the handler headers and validated input only, and sends its status, headers and body', async () => {
    let seen: string[] = [];
    route = defineRoute({
      ...base,
      query: z.object({}).optional(),
      handler: async (ctx) => {
        seen = Object.keys(ctx).sort();
        return { status: 201, headers: { 'Cache-Control': 'public, max-age=60' }, body: { hello: ctx.headers['x-name'], id: ctx.requestId } };
      },
    });
    const res = await send({ 'x-name': 'ada' });
    expect(res.statusCode).toBe(201);
    expect(res.headers['cache-control']).toBe('public, max-age=60');
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(await text(res))).toEqual({ hello: 'ada', id: 'req-1' });
    expect(seen).toEqual(['auth', 'body', 'headers', 'meta', 'params', 'query', 'requestId']);
  });
});

describe('after a write', () => {
  it('answers only once the facts have caught up with it, and not before a read', async () => {
    let release!: () => void;
    let waited = 0;
    afterWrite = () => {
      waited++;
      return new Promise<void>((r) => (release = r));
    };
    try {
      route = defineRoute({ ...base, method: 'post', handler: async () => ({ status: 201, body: { ok: true } }) });
      let answered = false;
      const pending = send({}, 'POST').then((r) => ((answered = true), r));
      await new Promise((r) => setTimeout(r, 50));
      expect(waited).toBe(1);
      expect(answered).toBe(false);
      release();
      expect((await pending).statusCode).toBe(201);
      // A read changes nothing: no wait.
      route = defineRoute({ ...base, handler: async () => ({ body: { ok: true } }) });
      expect((await send()).statusCode).toBe(200);
      expect(waited).toBe(1);
    } finally {
      afterWrite = async () => {};
    }
  });
});

describe('a streamed answer', () => {
  it('sends the headers, then what write() writes, then ends; the filename cannot break out of its quotes', async () => {
    route = defineRoute({
      ...base,
      handler: async () => ({
        headers: { 'X-Rows': '2' },
        stream: {
          contentType: 'text/csv; charset=utf-8',
          filename: 'log-"x"\\\u00e9.csv',
          write: async (sink) => {
            sink.write('a,b\r\n');
            sink.write('1,2\r\n');
          },
        },
      }),
    });
    const res = await send();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe('attachment; filename="log-_x___.csv"');
    expect(res.headers['x-rows']).toBe('2');
    expect(await text(res)).toBe('a,b\r\n1,2\r\n');
  });

  it('lets write() see a client that went away (the sink is destroyed and closes), and stays quiet about it', async () => {
    const outcome = Promise.withResolvers<{ written: number; complete: boolean; destroyed: boolean }>();
    route = defineRoute({
      ...base,
      handler: async () => ({
        stream: {
          contentType: 'application/x-ndjson',
          write: async (sink) => {
            async function* batches() {
              for (let b = 0; b < 100_000; b++) yield Array.from({ length: 64 }, (_, i) => ({ id: `${b}-${i}`, x: 'y'.repeat(1000) }));
            }
            const r = await writeExport({ format: 'ndjson', columns: ['id', 'x'], batches: batches(), out: sink });
            outcome.resolve({ written: r.rows, complete: r.complete, destroyed: sink.destroyed });
          },
        },
      }),
    });
    logs.length = 0;
    const res = await send();
    await once(res, 'data');
    res.destroy();
    const r = await outcome.promise;
    expect(r).toMatchObject({ complete: false, destroyed: true });
    expect(r.written).toBeLessThan(64 * 100_000);
    expect(logs.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('cuts the connection when write() fails after the headers went out, so no one takes a truncated body for a whole one', async () => {
    route = defineRoute({
      ...base,
      handler: async () => ({
        stream: {
          contentType: 'application/x-ndjson',
          write: async (sink) => {
            sink.write('{"row":1}\n');
            await new Promise((r) => setTimeout(r, 20));
            throw new Error('the cursor broke');
          },
        },
      }),
    });
    logs.length = 0;
    const res = await send();
    expect(res.statusCode).toBe(200);
    await expect(text(res)).rejects.toThrow(/aborted/);
    expect(logs.map((l) => l.msg)).toContain('error after response started');
  });

  it('answers a failure before the stream starts like any other (the export’s audit event could not be written, say)', async () => {
    route = defineRoute({
      ...base,
      handler: async () => {
        throw new TypeError('boom');
      },
    });
    const res = await send();
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(await text(res))).toMatchObject({ code: 'internal_error', request_id: 'req-1' });
  });
});
