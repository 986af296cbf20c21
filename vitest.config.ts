import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['shared/**/*.test.ts', 'daemon/**/*.test.ts', 'scripts/**/*.test.ts', 'extension/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          setupFiles: ['tests/helpers/cleanup.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          // Integration tests start real daemons and servers; running them one file at a
          // time keeps a 2-core machine from turning timeouts into flakes.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          globalSetup: ['tests/e2e/globalSetup.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          // One Chromium at a time: two would starve each other on a 2-core machine.
          fileParallelism: false,
        },
      },
    ],
  },
});
