/**
 * The shipped Prometheus rules and Grafana dashboard (deploy/monitoring)
 * cannot drift from the code: both parse, every PromQL expression in them
 * parses with Prometheus's own grammar (lezer-promql) without an error node,
 * and every metric they name exists in Custos's registry (a histogram's
 * `_bucket`, `_sum` and `_count` series included).
 */
import { readFileSync } from 'node:fs';
import { parser } from '@prometheus-io/lezer-promql';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '../../src/metrics/metrics.ts';

const ROOT = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const rules = parse(read('deploy/monitoring/prometheus-rules.yaml')) as { groups: { name: string; rules: Rule[] }[] };
const dashboard = JSON.parse(read('deploy/monitoring/grafana-dashboard.json')) as { uid: string; panels: { title: string; targets?: { expr: string; refId: string }[] }[] };

/** Every series name Custos's registry exposes: each metric, and a histogram's three series. */
async function registryNames(): Promise<Set<string>> {
  const m = createMetrics({ version: '0', decisionLogQueue: () => 0, dbPoolMax: 1, openAlerts: async () => ({ low: 0, medium: 0, high: 0, critical: 0 }) });
  const names = new Set<string>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    const name = metric.name;
    const type = String(metric.type);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(name + suffix);
    else names.add(name);
  }
  return names;
}

/** Grafana's interval variables, as a Prometheus duration (Grafana substitutes them before the query reaches Prometheus). */
function withGrafanaVariables(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m');
}

/** The parse: error nodes found, and the metric names of the vector selectors. */
function promql(expr: string): { errors: string[]; metrics: string[] } {
  const errors: string[] = [];
  const metrics: string[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) errors.push(`at ${node.from}: ${JSON.stringify(expr.slice(node.from, node.to + 10))}`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') metrics.push(expr.slice(node.from, node.to));
    },
  });
  return { errors, metrics };
}

const ruleExprs = rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `${g.name}/${r.alert ?? r.record}`, expr: r.expr })));
const panelExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${p.title}/${t.refId}`, expr: withGrafanaVariables(t.expr) })));

describe('deploy/monitoring', () => {
  it('the rules file is rule groups as Prometheus loads them', () => {
    expect(rules.groups.length).toBeGreaterThan(0);
    expect(new Set(rules.groups.map((g) => g.name)).size).toBe(rules.groups.length);
    for (const g of rules.groups) {
      expect(g.rules.length, g.name).toBeGreaterThan(0);
      for (const r of g.rules) {
        expect(r.alert, `${g.name}: every rule is an alert`).toMatch(/^[A-Z][A-Za-z0-9]+$/);
        expect(typeof r.expr).toBe('string');
        if (r.for !== undefined) expect(r.for).toMatch(/^\d+[smhd]$/);
        expect(['info', 'warning', 'critical']).toContain(r.labels?.severity);
        expect(r.annotations?.summary, `${r.alert} has a summary`).toBeTruthy();
        expect(Object.keys(r).filter((k) => !['alert', 'expr', 'for', 'labels', 'annotations'].includes(k)), `${r.alert}: no unknown keys`).toEqual([]);
      }
    }
  });

  it('the dashboard is a Grafana dashboard with queries', () => {
    expect(dashboard.uid).toBe('custos-overview');
    expect(panelExprs.length).toBeGreaterThan(10);
  });

  it.each([...ruleExprs, ...panelExprs])('$where parses as PromQL', ({ expr }) => {
    const { errors, metrics } = promql(expr);
    expect(errors).toEqual([]);
    expect(metrics.length).toBeGreaterThan(0);
  });

  it('names only metrics that exist in the registry', async () => {
    const names = await registryNames();
    const unknown = [...ruleExprs, ...panelExprs].flatMap(({ where, expr }) => promql(expr).metrics.filter((m) => !names.has(m)).map((m) => `${where}: ${m}`));
    expect(unknown).toEqual([]);
  });

  it('would catch a misspelt metric or a broken expression (the checks themselves)', async () => {
    const names = await registryNames();
    expect(names.has('custos_decision_duration_seconds_bucket')).toBe(true);
    expect(names.has('custos_decision_duration_seconds')).toBe(false);
    expect(promql('rate(custos_decisions_total[5m]').errors).not.toEqual([]);
    expect(promql('sum(rate(custos_decision_total[5m]))').metrics).toEqual(['custos_decision_total']);
  });
});
