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

/**
 * The test files a mutation run (`npm run mutate`, stryker.config.mjs) uses:
 * only the pure tests of the folders it mutates. They need no PostgreSQL, so
 * there is no global setup; Stryker runs each mutant against the tests that
 * cover it (per-test coverage).
 */
export default defineConfig({
  test: {
    include: ['test/engine/**/*.test.ts', 'test/policy/**/*.test.ts'],
    setupFiles: ['test/support/mutation-setup.ts'],
    testTimeout: 30_000,
    // Modules stay loaded between mutant runs: Stryker activates each mutant
    // at run time (static mutants are ignored, stryker.config.mjs), so only
    // the test files need to run again. Re-importing casbin, CEL and zod for
    // every mutant took most of each run. MUTATE_STATIC=1 reloads them, as
    // static mutants need.
    isolate: process.env.MUTATE_STATIC === '1',
    sequence: { sequencer: QuickFirst },
  },
});
