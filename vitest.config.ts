import { defineConfig } from 'vitest/config';

// One project per test group (CONTRIBUTING.md): each with the timeouts its kind of test needs.
// The fault scenarios run last and one file at a time: each runs the whole pipeline, and on a
// 2-core machine two of them beside the rest would only measure the machine.
const group = (name: string, timeoutMs: number, extra: Record<string, unknown> = {}) => ({
  extends: true as const,
  test: { name, include: [`test/${name}/**/*.test.ts`], testTimeout: timeoutMs, hookTimeout: timeoutMs, ...extra },
});

export default defineConfig({
  test: {
    pool: 'forks',
    // The SDK's Node-version notice, off as for every command (local/cli/sdkNotice.ts).
    setupFiles: ['local/cli/sdkNotice.ts'],
    projects: [
      group('unit', 30_000),
      group('infra', 120_000),
      group('integration', 180_000),
      group('esm', 120_000),
      group('timescale', 180_000),
      group('e2e', 240_000),
      group('faults', 240_000, { fileParallelism: false, sequence: { groupOrder: 1 } }),
    ],
  },
});
