import { defineConfig } from 'vitest/config';

// Real databases are slow to start (PGlite boots a WASM Postgres); two cores means two workers.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // New PGlite databases start from one dump instead of running initdb each (decision 0114).
    globalSetup: ['./test/support/pglite-template-setup.ts'],
    // The run ends with one line saying what was skipped for a missing server, and why.
    reporters: ['default', './test/support/skip-summary.ts'],
  },
});
