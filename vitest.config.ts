import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Dependencies load graphql's CommonJS build through Node; make the project's own imports
    // use the same copy, or graphql's instanceof checks fail across the two.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/bench/**', 'node_modules/**'],
    // One migrated PGlite data dir that every test database in memory starts from.
    globalSetup: ['test/kit/global-setup.ts'],
    // Only a guard against a hang: tests wait for events, never for a deadline, and a machine
    // busy with other work can make a test take many times as long. The kit's waits say what
    // they were waiting for when this ends a test (test/kit/setup.ts).
    testTimeout: 900_000,
    hookTimeout: 900_000,
    setupFiles: ['test/kit/setup.ts'],
    // Each file starts its own servers and databases; two cores run two files at a time.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
