import { defineConfig } from 'vitest/config';

/**
 * The test files a mutation run (`npm run mutate`, stryker.config.mjs) uses:
 * only the pure tests of the folders it mutates. They need no PostgreSQL, so
 * there is no global setup; Stryker runs each mutant against the tests that
 * cover it (per-test coverage), in a worker of its own.
 */
export default defineConfig({
  test: {
    include: ['test/engine/**/*.test.ts', 'test/policy/**/*.test.ts'],
    testTimeout: 30_000,
  },
});
