import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', '.tapline/', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      'no-console': 'off',
      // Fakes and handlers implement Promise-returning interfaces; `async` keeps a synchronous throw a rejection.
      '@typescript-eslint/require-await': 'off',
      // Stored failures (a poller's, a subscriber's) are caught as `unknown` and rethrown as they came; literals stay banned.
      '@typescript-eslint/only-throw-error': 'off',
      'no-throw-literal': 'error',
    },
  },
  {
    // Vitest's asymmetric matchers (expect.any, expect.stringMatching) are typed `any` by design.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    // Plain JavaScript (the live page, config files) is outside tsconfig.json: no type information.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The live view's page runs in the browser (served by local/live/server.ts), uPlot from its script tag.
    files: ['local/live/page/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        ['document', 'fetch', 'EventSource', 'requestAnimationFrame', 'ResizeObserver', 'Option', 'setTimeout', 'clearTimeout', 'uPlot'].map((g) => [g, 'readonly']),
      ),
    },
  },
);
