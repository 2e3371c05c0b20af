/**
 * Small helpers shared by the benchmarks: percentiles, tables, result files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';

/** The p-th percentile (0–100) of a sample, by nearest rank. */
export function percentile(sorted: Float64Array | number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Prints a two-column table. */
export function printTable(title: string, rows: [string, string | number][]): void {
  const w = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(`\n${title}\n${'-'.repeat(title.length)}\n`);
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)}  ${typeof v === 'number' ? fmt(v) : v}\n`);
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1);
}

/** Writes bench/results/NAME.json with the figures and the machine they came from. */
export function writeResult(name: string, figures: Record<string, unknown>): void {
  // Smoke runs go to NAME.smoke.json so they never overwrite a full-size result.
  if (figures.smoke === true) name = `${name}.smoke`;
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const body = { ...figures, machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version }, at: new Date().toISOString() };
  writeFileSync(new URL(`${name}.json`, dir), JSON.stringify(body, null, 2) + '\n');
  process.stdout.write(`\nwrote bench/results/${name}.json\n`);
}

/** Deterministic PRNG (mulberry32): every run measures the same world and asks the same questions. */
export function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
