/**
 * decide() of this checkout against an earlier commit's, in one process on
 * one world: `node bench/decide-ab.ts REF [RULES] [FAMILY]` (defaults
 * 100000, datasets+stewards; FAMILY as in bench/decide.ts `scaling`).
 *
 * REF's `src` is extracted (git archive) beside a link to this checkout's
 * node_modules; each side compiles the same rules with its own compiler and
 * decides the same 8,192 requests, after both agree on every one. Then 40
 * rounds, each a block of 8,192 decisions on either side, the order turning
 * each round, so that whatever the machine does meanwhile falls on both
 * alike: on a shared VM, runs a minute apart differ by more than most
 * changes do. Prints the median block's time per decision on each side,
 * each side's p50 and p99, and the ratio (this checkout / REF).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Decision, DecisionInput } from '../src/engine/types.ts';
import type { PolicySnapshot } from '../src/engine/snapshot.ts';
import { FAMILIES, scalingWorld } from './decide.ts';
import { percentile } from './util.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BLOCK = 8192;
const ROUNDS = 40;

interface Side {
  name: string;
  decide: (input: DecisionInput, snapshot: PolicySnapshot) => Decision;
  snapshot: PolicySnapshot;
}

async function load(name: string, root: string, world: ReturnType<typeof scalingWorld>): Promise<Side> {
  const url = (rel: string) => pathToFileURL(path.join(root, rel)).href;
  const { decide } = (await import(url('src/engine/decide.ts'))) as { decide: Side['decide'] };
  const { compilePolicy } = (await import(url('src/policy/compile.ts'))) as typeof import('../src/policy/compile.ts');
  const snapshot = compilePolicy({ documents: [{ name: 'ab.yaml', text: '', value: { rules: world.rules } }], roles: world.roles });
  return { name, decide, snapshot };
}

async function main(): Promise<void> {
  const [ref, rulesArg, familyArg] = process.argv.slice(2);
  if (!ref) throw new Error('usage: node bench/decide-ab.ts REF [RULES] [FAMILY]');
  const family = (familyArg ?? 'datasets+stewards') as (typeof FAMILIES)[number];
  if (!FAMILIES.includes(family)) throw new Error(`FAMILY is one of ${FAMILIES.join(', ')}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'custos-decide-ab-'));
  try {
    execFileSync('sh', ['-c', `git -C "$1" archive "$2" src policies | tar -x -C "$3"`, 'sh', ROOT, ref, dir]);
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    cpSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
    const world = scalingWorld(Number(rulesArg ?? 100_000), family, false);
    const sides = [await load(ref, dir, world), await load('this checkout', ROOT, world)] as const;
    const inputs = world.inputs;
    for (const side of sides) for (let i = 0; i < 100_000; i++) side.decide(inputs[i % inputs.length]!, side.snapshot);
    inputs.forEach((input, i) => {
      const [a, b] = sides.map((s) => s.decide(input, s.snapshot));
      if (a!.effect !== b!.effect || a!.rules.join() !== b!.rules.join()) throw new Error(`request ${i}: ${ref} and this checkout disagree`);
    });
    const means: number[][] = [[], []];
    const times = [new Float64Array(ROUNDS * BLOCK), new Float64Array(ROUNDS * BLOCK)];
    for (let round = 0; round < ROUNDS; round++) {
      for (const k of round % 2 ? [1, 0] : [0, 1]) {
        const side = sides[k]!;
        const start = process.hrtime.bigint();
        for (let i = 0; i < BLOCK; i++) {
          const input = inputs[(round * 1000 + i) % inputs.length]!;
          const s = process.hrtime.bigint();
          side.decide(input, side.snapshot);
          times[k]![round * BLOCK + i] = Number(process.hrtime.bigint() - s) / 1000;
        }
        means[k]!.push(Number(process.hrtime.bigint() - start) / BLOCK);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    sides.forEach((side, k) => {
      const t = times[k]!.sort();
      console.log(`${side.name.padEnd(14)} ${Math.round(median(means[k]!))} ns per decision, p50 ${percentile(t, 50).toFixed(2)} µs, p99 ${percentile(t, 99).toFixed(2)} µs`);
    });
    console.log(`this checkout / ${ref}: ${(median(means[1]!) / median(means[0]!)).toFixed(3)} (${world.snapshot.rules.length} rules, ${family})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
