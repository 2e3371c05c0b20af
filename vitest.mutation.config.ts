import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * Quick files first: a mutant is killed by the first failing test (Stryker
 * bails), so the property test comparing with casbin, the slowest file,
 * runs only when the quick ones let the mutant through.
 */
class QuickFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const slow = (f: TestSpecification) => (f.moduleId.endsWith('differential.test.ts') ? 1 : 0);
    return [...files].sort((a, b) => slow(a) - slow(b) || a.moduleId.localeCompare(b.moduleId));
  }
}

/** Tests of the folders Stryker mutates that need PostgreSQL: the stores and the policy operations. */
const STORE_TESTS = ['test/policy/postgres.test.ts', 'test/policy/administration.test.ts'];
/** Tests of real-size limits: seconds each under coverage; their boundaries are tested small in the pure files. */
const SIZE_TESTS = ['test/policy/diff-limit.test.ts'];

/**
 * The test files a mutation run (`npm run mutate`, stryker.config.mjs) uses:
 * the tests of the folders it mutates, in two projects. `pure` needs no
 * PostgreSQL; `stores` has the global setup that starts an embedded
 * PostgreSQL (test/support/global-setup.ts), which vitest runs only when a
 * run includes a store test, so mutants the store tests do not cover never
 * start it. Stryker runs each mutant against the tests that cover it
 * (per-test coverage).
 */
export default defineConfig({
  test: {
    setupFiles: ['test/support/mutation-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Modules stay loaded between mutant runs: Stryker activates each mutant
    // at run time (static mutants are ignored, stryker.config.mjs), so only
    // the test files need to run again. Re-importing casbin, CEL and zod for
    // every mutant took most of each run. MUTATE_STATIC=1 reloads them, as
    // static mutants need.
    isolate: process.env.MUTATE_STATIC === '1',
    sequence: { sequencer: QuickFirst },
    projects: [
      { extends: true, test: { name: 'pure', include: ['test/engine/**/*.test.ts', 'test/policy/**/*.test.ts'], exclude: [...STORE_TESTS, ...SIZE_TESTS] } },
      { extends: true, test: { name: 'stores', include: STORE_TESTS, globalSetup: ['test/support/global-setup.ts'] } },
    ],
  },
});
