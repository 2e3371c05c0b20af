/**
 * Every decision agrees across replicas: each request of a set goes to every
 * replica directly (not through the proxy), and the answers must be the same
 * in everything but their ids: effect, granted and denied columns, reasons
 * and the policy version. Each is also compared with the oracle, as the
 * hospital bench does (bench/hospital/agreement.ts).
 */
import { oracle, utcToday } from '../hospital/oracle.ts';
import type { HospitalRequest, World } from '../hospital/world.ts';
import { custosBody } from '../hospital/custos.ts';

interface Answer {
  effect: string;
  granted_columns: string[];
  denied_columns: string[];
  reasons: string[];
  policy_version: string;
}

export interface ReplicaAgreement {
  requests: number;
  replicas: number;
  /** Requests every replica answered alike. */
  alike: number;
  /** Requests every replica answered as the oracle does. */
  oracle_agreed: number;
  /** Up to 5 requests answered differently, with each replica's answer. */
  differences: { request: HospitalRequest; answers: string[] }[];
}

async function ask(base: string, headers: Record<string, string>, req: HospitalRequest): Promise<Answer> {
  const r = await fetch(`${base}/v1/decisions`, { method: 'POST', headers, body: custosBody(req) });
  if (r.status !== 200) throw new Error(`${base} answered ${r.status}: ${await r.text()}`);
  const a = (await r.json()) as Answer;
  return { effect: a.effect, granted_columns: a.granted_columns, denied_columns: a.denied_columns, reasons: a.reasons, policy_version: a.policy_version };
}

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export async function compareReplicas(o: { world: World; replicas: readonly string[]; headers: Record<string, string>; requests: readonly HospitalRequest[]; concurrency?: number }): Promise<ReplicaAgreement> {
  const today = utcToday();
  const result: ReplicaAgreement = { requests: o.requests.length, replicas: o.replicas.length, alike: 0, oracle_agreed: 0, differences: [] };
  let next = 0;
  const one = async (req: HospitalRequest) => {
    const answers = await Promise.all(o.replicas.map((base) => ask(base, o.headers, req)));
    const texts = answers.map((a) => JSON.stringify(a));
    if (texts.every((t) => t === texts[0])) result.alike++;
    else if (result.differences.length < 5) result.differences.push({ request: req, answers: texts });
    const v = oracle(o.world, req, today);
    if (answers.every((a) => a.effect === v.effect && same(a.granted_columns, v.granted) && same(a.denied_columns, v.columnDeny ?? []))) result.oracle_agreed++;
  };
  await Promise.all(
    Array.from({ length: o.concurrency ?? 8 }, async () => {
      while (next < o.requests.length) await one(o.requests[next++]!);
    }),
  );
  return result;
}
