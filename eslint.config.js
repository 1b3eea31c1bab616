import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', '.tapline/', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      'no-console': 'off',
    },
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
