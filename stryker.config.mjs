// Mutation testing (`npm run mutate`): Stryker changes src/engine and
// src/policy one mutant at a time and runs the tests that cover it; a mutant
// no test notices is a gap in the tests. Not part of CI (it takes minutes);
// see docs/testing.md. bench/mutation-summary.ts turns the JSON report into
// bench/results/mutation.json.
import process from 'node:process';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  // The vitest runner always measures coverage per test; said here so the intent is visible.
  coverageAnalysis: 'perTest',
  mutate: ['src/engine/**/*.ts', 'src/policy/**/*.ts'],
  reporters: ['progress', 'clear-text', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  // Two cores shared with others: two workers; more only queue.
  concurrency: 2,
  timeoutMS: 10_000,
  // Later runs retest only mutants whose code or covering tests changed
  // (reports/stryker-incremental.json); `--force` retests everything.
  incremental: true,
  // Static mutants (module-level values such as zod schemas and the CEL
  // environment) need a fresh module load and every test run each: 27% of
  // the mutants, 59% of the run time here. They are reported as Ignored and
  // counted in bench/results/mutation.json; MUTATE_STATIC=1 runs them (and
  // makes vitest.mutation.config.ts reload modules for every mutant).
  ignoreStatic: process.env.MUTATE_STATIC !== '1',
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
