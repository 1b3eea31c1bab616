import { defineConfig } from 'vitest/config';

// Test groups live in folders: unit (pure logic), integration (real emulators + embedded
// PostgreSQL), timescale (in-process TimescaleDB), infra (CDK synth), e2e (the local pipeline).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
