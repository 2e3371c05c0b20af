/**
 * A real HTTP listener on loopback that receives Custos webhooks, checks
 * their signatures independently, and can fail on purpose to exercise retries.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One received notification. */
export interface Received {
  event: string;
  delivery: string;
  signatureValid: boolean;
  body: any;
  status: number;
}

/** A running receiver. */
export interface Receiver {
  url: string;
  secret: string;
  received: Received[];
  /** Answer the next `n` deliveries with HTTP 500. */
  failNext(n: number): void;
  /** Resolves when a delivery of `event` (optionally matching `where`) has been accepted. */
  waitFor(event: string, where?: (r: Received) => boolean, timeoutMs?: number): Promise<Received>;
  close(): Promise<void>;
}

/** Recomputes `t=…,v1=…` over the raw body, as a receiver should. */
export function verifySignature(secret: string, header: string | undefined, body: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex')) && Math.abs(Date.now() / 1000 - Number(m[1])) < 300;
}

/** Starts a receiver. */
export async function startReceiver(secret = 'whsec-test-0123456789abcdef0123456789abcdef'): Promise<Receiver> {
  const received: Received[] = [];
  let failures = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = failures > 0 ? (failures--, 500) : 204;
      received.push({
        event: String(req.headers['custos-event']),
        delivery: String(req.headers['custos-delivery']),
        signatureValid: verifySignature(secret, req.headers['custos-signature'] as string | undefined, text),
        body: JSON.parse(text),
        status,
      });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/custos`;
  return {
    url,
    secret,
    received,
    failNext: (n) => {
      failures = n;
    },
    async waitFor(event, where = () => true, timeoutMs = 8000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const hit = received.find((r) => r.event === event && r.status < 300 && where(r));
        if (hit) return hit;
        if (Date.now() > until) throw new Error(`no ${event} notification within ${timeoutMs} ms (got: ${received.map((r) => `${r.event}/${r.status}`).join(', ')})`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
