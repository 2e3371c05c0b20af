/**
 * Before anything is timed, every request of the workload goes to Custos
 * (POST /v1/decisions) and to each Cerbos server (CheckResources), and each
 * answer is compared with the oracle's. A benchmark of wrong answers would
 * measure nothing, so any disagreement fails the run.
 */
import { cerbosBodies, deniedColumns } from './cerbos.ts';
import { custosBody } from './custos.ts';
import { oracle, utcToday, type Verdict } from './oracle.ts';
import type { HospitalRequest, World } from './world.ts';

/** Custos's answer, as much of it as the oracle speaks to. */
interface CustosAnswer {
  effect: 'allow' | 'deny';
  granted_columns: string[];
  denied_columns: string[];
  reasons: string[];
}

export interface Disagreement {
  index: number;
  request: HospitalRequest;
  engine: string;
  expected: unknown;
  actual: unknown;
}

export interface AgreementReport {
  requests: number;
  /** Fraction of requests on which every engine asked gave the oracle's answer. */
  agreement: number;
  /** Requests each engine answered as the oracle did. */
  agreed: Record<string, number>;
  /** The oracle's mix: allows, denies by columns alone, other denies. */
  mix: { allow: number; column_deny: number; deny: number };
  disagreements: Disagreement[];
}

/** Where to ask: Custos with an enforcement point's credentials, and any number of Cerbos servers by name. */
export interface Engines {
  custos?: { base: string; headers: Record<string, string> };
  cerbos?: Record<string, string>;
}

export async function askCustos(custos: NonNullable<Engines['custos']>, req: HospitalRequest): Promise<CustosAnswer> {
  const r = await fetch(`${custos.base}/v1/decisions`, { method: 'POST', headers: custos.headers, body: custosBody(req) });
  if (r.status !== 200) throw new Error(`custos answered ${r.status}: ${await r.text()}`);
  return (await r.json()) as CustosAnswer;
}

/** The columns Cerbos withholds: asked as the principal, and as its sponsor when it is a service allowed on its own. */
export async function askCerbos(w: World, base: string, req: HospitalRequest): Promise<string[]> {
  const bodies = cerbosBodies(w, req);
  const check = async (body: string) => {
    const r = await fetch(`${base}/api/check/resources`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (r.status !== 200) throw new Error(`cerbos answered ${r.status}: ${await r.text()}`);
    return deniedColumns((await r.json()) as Parameters<typeof deniedColumns>[0]);
  };
  const own = await check(bodies.own);
  return own.length || !bodies.sponsor ? own : check(bodies.sponsor);
}

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const sorted = (xs: readonly string[]) => [...xs].sort();

/** Runs every request through every engine, `concurrency` at a time, and compares with the oracle. */
export async function checkAgreement(w: World, engines: Engines, o: { concurrency?: number; requests?: readonly HospitalRequest[] } = {}): Promise<AgreementReport> {
  const requests = o.requests ?? w.requests;
  const names = [...(engines.custos ? ['custos'] : []), ...Object.keys(engines.cerbos ?? {})];
  const agreed: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  const disagreements: Disagreement[] = [];
  const mix = { allow: 0, column_deny: 0, deny: 0 };
  let allAgree = 0;
  let next = 0;
  const one = async (index: number) => {
    const req = requests[index]!;
    const v: Verdict = oracle(w, req, utcToday());
    mix[v.effect === 'allow' ? 'allow' : v.columnDeny ? 'column_deny' : 'deny']++;
    let ok = true;
    const note = (engine: string, good: boolean, expected: unknown, actual: unknown) => {
      if (good) agreed[engine]!++;
      else {
        ok = false;
        disagreements.push({ index, request: req, engine, expected, actual });
      }
    };
    if (engines.custos) {
      const a = await askCustos(engines.custos, req);
      const good = a.effect === v.effect && same(a.granted_columns, v.granted) && same(a.denied_columns, v.columnDeny ?? []);
      note('custos', good, { effect: v.effect, granted: v.granted, denied: v.columnDeny ?? [] }, { effect: a.effect, granted: a.granted_columns, denied: a.denied_columns, reasons: a.reasons });
    }
    for (const [name, base] of Object.entries(engines.cerbos ?? {})) {
      const withheld = sorted(await askCerbos(w, base, req));
      note(name, same(withheld, sorted(v.withheld)), { withheld: sorted(v.withheld) }, { withheld });
    }
    if (ok) allAgree++;
  };
  await Promise.all(
    Array.from({ length: o.concurrency ?? 8 }, async () => {
      while (next < requests.length) await one(next++);
    }),
  );
  disagreements.sort((a, b) => a.index - b.index);
  return { requests: requests.length, agreement: requests.length ? allAgree / requests.length : 1, agreed, mix, disagreements };
}

/** A line per disagreement, at most `max` of them. */
export function describeDisagreements(r: AgreementReport, max = 5): string {
  return r.disagreements
    .slice(0, max)
    .map((d) => `#${d.index} ${d.engine}: ${JSON.stringify(d.request)} expected ${JSON.stringify(d.expected)}, got ${JSON.stringify(d.actual)}`)
    .join('\n');
}
