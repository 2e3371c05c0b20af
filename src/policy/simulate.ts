/**
 * Impact simulation: replays logged decision requests against a candidate
 * policy and the live one, with the facts as they are now (each request
 * decided at its logged time), and reports the decisions that would flip.
 * Reads only; rows arrive in batches through a cursor, so memory stays
 * bounded whatever the range.
 */
import type { DatasetFacts, DecisionInput, PrincipalFacts } from '../engine/types.ts';
import type { FactsStore } from '../decisions/facts.ts';
import type { DecisionRequest } from '../decisions/evaluate.ts';

/** One logged decision request: the request as callers phrase it, with its record's id and time. */
export interface LoggedRequest extends DecisionRequest {
  id: string;
  at: Date;
}

/** Where logged requests come from (the AuditReader: the decision log). */
export interface LoggedRequestSource {
  batches(range: { from: Date; to: Date; limit: number; batchSize?: number }): AsyncIterable<LoggedRequest[]>;
}

/** One flipped decision, as an example. */
export interface FlipExample {
  decision_id: string;
  at: string;
  principal_id: string;
  dataset_id: string;
  purpose: string;
  live: { effect: string; rules: string[] };
  candidate: { effect: string; rules: string[]; reasons: string[] };
}

/** Flip counts of one rule, principal or dataset. */
export interface FlipGroup {
  key: string;
  allow_to_deny: number;
  deny_to_allow: number;
  examples: FlipExample[];
}

/** What a simulation found. */
export interface SimulationReport {
  from: string;
  to: string;
  /** Requests replayed. */
  replayed: number;
  /** Requests whose principal or dataset no longer exists. */
  skipped: number;
  /** The range held more requests than the limit. */
  truncated: boolean;
  live_version: string;
  candidate_version: string;
  unchanged: number;
  flips: { allow_to_deny: number; deny_to_allow: number };
  by_rule: FlipGroup[];
  by_principal: FlipGroup[];
  by_dataset: FlipGroup[];
  examples: FlipExample[];
}

/** What a simulation needs of one decision. */
export interface DecisionOutcome {
  effect: string;
  rules: string[];
  reasons: string[];
}

/** Decides a batch of inputs by the live and the candidate policy (in a worker thread: see simulateInWorker.ts). */
export type DecideBoth = (inputs: DecisionInput[]) => Promise<{ live: DecisionOutcome; candidate: DecisionOutcome }[]>;

/** What {@link simulatePolicy} takes. */
export interface SimulatePolicyOptions {
  source: LoggedRequestSource;
  facts: FactsStore;
  decide: DecideBoth;
  liveVersion: string;
  candidateVersion: string;
  from: Date;
  to: Date;
  limit: number;
  /** The time facts are read at (now). */
  now: Date;
  /** Examples kept per group and overall. */
  examples?: number;
  /** Groups reported per grouping (largest first). */
  groups?: number;
  onProgress?: (replayed: number) => void;
}

/** A small bounded cache: when full it starts over (facts are re-read, never wrong). */
class Bounded<V> {
  private readonly map = new Map<string, Promise<V>>();
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }
  get(key: string, load: () => Promise<V>): Promise<V> {
    let v = this.map.get(key);
    if (!v) {
      if (this.map.size >= this.max) this.map.clear();
      this.map.set(key, (v = load()));
    }
    return v;
  }
}

/** Replays logged requests against both policies and counts the flips. */
export async function simulatePolicy(o: SimulatePolicyOptions): Promise<SimulationReport> {
  const maxExamples = o.examples ?? 3;
  const maxGroups = o.groups ?? 50;
  const principals = new Bounded<PrincipalFacts | undefined>(5_000);
  const datasets = new Bounded<DatasetFacts | undefined>(5_000);
  const groups = { rule: new Map<string, FlipGroup>(), principal: new Map<string, FlipGroup>(), dataset: new Map<string, FlipGroup>() };
  const report: SimulationReport = {
    from: o.from.toISOString(),
    to: o.to.toISOString(),
    replayed: 0,
    skipped: 0,
    truncated: false,
    live_version: o.liveVersion,
    candidate_version: o.candidateVersion,
    unchanged: 0,
    flips: { allow_to_deny: 0, deny_to_allow: 0 },
    by_rule: [],
    by_principal: [],
    by_dataset: [],
    examples: [],
  };
  const count = (map: Map<string, FlipGroup>, key: string, dir: 'allow_to_deny' | 'deny_to_allow', ex: FlipExample) => {
    let g = map.get(key);
    if (!g) map.set(key, (g = { key, allow_to_deny: 0, deny_to_allow: 0, examples: [] }));
    g[dir]++;
    if (g.examples.length < maxExamples) g.examples.push(ex);
  };
  let seen = 0;
  // One more than the limit tells whether the range was cut short.
  for await (const batch of o.source.batches({ from: o.from, to: o.to, limit: o.limit + 1 })) {
    const rows: { r: LoggedRequest; input: DecisionInput }[] = [];
    for (const r of batch) {
      if (++seen > o.limit) {
        report.truncated = true;
        break;
      }
      const [p, d] = await Promise.all([principals.get(r.principalId, () => o.facts.principal(r.principalId, o.now)), datasets.get(r.datasetId, () => o.facts.dataset(r.datasetId, o.now))]);
      if (!p || !d) {
        report.skipped++;
        continue;
      }
      rows.push({ r, input: { now: r.at.getTime(), action: r.action, purpose: r.purpose, columns: r.columns, principal: p, dataset: d, context: r.context } });
    }
    // The CPU-bound part, a batch at a time, off the event loop.
    const decided = rows.length ? await o.decide(rows.map((x) => x.input)) : [];
    rows.forEach(({ r }, i) => {
      const { live, candidate: cand } = decided[i]!;
      report.replayed++;
      if (live.effect === cand.effect) {
        report.unchanged++;
        return;
      }
      const dir = live.effect === 'allow' ? 'allow_to_deny' : 'deny_to_allow';
      report.flips[dir]++;
      const ex: FlipExample = {
        decision_id: r.id,
        at: r.at.toISOString(),
        principal_id: r.principalId,
        dataset_id: r.datasetId,
        purpose: r.purpose,
        live: { effect: live.effect, rules: live.rules },
        candidate: { effect: cand.effect, rules: cand.rules, reasons: cand.reasons },
      };
      if (report.examples.length < maxExamples * 2) report.examples.push(ex);
      // The rules that made the difference: the candidate's deciding rules, else the live allow that no longer applies.
      const rules = cand.rules.length ? cand.rules : live.rules.length ? live.rules : ['(no rule)'];
      for (const rule of new Set(rules)) count(groups.rule, rule, dir, ex);
      count(groups.principal, r.principalId, dir, ex);
      count(groups.dataset, r.datasetId, dir, ex);
    });
    o.onProgress?.(report.replayed + report.skipped);
    if (report.truncated) break;
  }
  const top = (m: Map<string, FlipGroup>) =>
    [...m.values()].sort((a, b) => b.allow_to_deny + b.deny_to_allow - (a.allow_to_deny + a.deny_to_allow) || a.key.localeCompare(b.key)).slice(0, maxGroups);
  report.by_rule = top(groups.rule);
  report.by_principal = top(groups.principal);
  report.by_dataset = top(groups.dataset);
  return report;
}
