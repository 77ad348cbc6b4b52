import { defineConfig } from 'vitest/config';

// Finite-difference checks of the VJP rules the performance work rewrote (bench/rules.test.ts):
//   npx vitest run --config bench/vitest.config.ts
export default defineConfig({
  test: {
    include: ['bench/**/*.test.ts'],
    testTimeout: 120_000,
    pool: 'forks',
  },
});
