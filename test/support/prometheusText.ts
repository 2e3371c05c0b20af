/**
 * Reading /metrics in tests: the text parsed with parse-prometheus-text-format
 * (an exposition-format parser independent of prom-client), and the value of
 * one series by name and labels.
 */
import parsePrometheusTextFormat, { type ParsedFamily, type ParsedSample } from 'parse-prometheus-text-format';

/** Parsed exposition text, by family name. */
export type Scrape = Map<string, ParsedFamily>;

/**
 * Parses the exposition text. The parser folds a histogram with labels into
 * one label-less series (it handles only unlabelled histograms), so each
 * histogram is read as what the text carries: its `_bucket`, `_count` and
 * `_sum` series, each a family of its own (its TYPE and HELP lines are dropped).
 */
export function parseScrape(text: string): Scrape {
  const histograms = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) histogram$/gm)) histograms.add(m[1]!);
  const unfolded = text
    .split('\n')
    .filter((line) => !/^# (TYPE|HELP) (\S+)/.test(line) || !histograms.has(/^# \S+ (\S+)/.exec(line)![1]!))
    .join('\n');
  // A histogram's series come label set by label set (buckets, sum, count, then the next), so one name recurs: join them.
  const out: Scrape = new Map();
  for (const f of parsePrometheusTextFormat(unfolded)) {
    const seen = out.get(f.name);
    if (seen) seen.metrics.push(...f.metrics);
    else out.set(f.name, f);
  }
  return out;
}

function matches(s: ParsedSample, labels: Record<string, string>): boolean {
  const have = s.labels ?? {};
  return Object.keys(have).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => have[k] === v);
}

/** The one series of `name` with exactly these labels; throws when there is none. */
export function series(scrape: Scrape, name: string, labels: Record<string, string> = {}): ParsedSample {
  const family = scrape.get(name);
  if (!family) throw new Error(`no metric ${name}`);
  const found = family.metrics.filter((s) => matches(s, labels));
  if (found.length !== 1) throw new Error(`${found.length} series of ${name} with labels ${JSON.stringify(labels)}`);
  return found[0]!;
}

/** The value of a counter or gauge series, as a number. */
export function value(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  return Number(series(scrape, name, labels).value);
}

/** The observation count of a histogram series (its `_count`). */
export function count(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  return value(scrape, `${name}_count`, labels);
}

/** The sum of a histogram series's observations (its `_sum`). */
export function sum(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  return value(scrape, `${name}_sum`, labels);
}
