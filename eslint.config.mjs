// ESLint (flat config): typescript-eslint's type-checked rules over src/, test/ and bench/.
// Types come from tsconfig.check.json: one program over the same files `make typecheck` checks
// (the project service would pick tsconfig.json, which holds src/ only, the build's tsconfig).
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tools/', 'reports/', '.stryker-tmp/', 'examples/', 'test/golden/', 'test/bad/', 'test/fixtures/', 'mutation/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ['**/*.ts'],
    ignores: ['web/**'],
    languageOptions: {
      parserOptions: {
        project: './tsconfig.check.json',
        tsconfigRootDir: dirname(fileURLToPath(import.meta.url)), // import.meta.dirname needs Node 20.11
      },
    },
    rules: {
      // Every switch over a union names every member (STYLE.md 6: exhaustive switches over IR unions).
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // Off: some functions are async for their contract (a teardown step, a lab or sandbox stage
      // returns a promise like its siblings) without awaiting anything today.
      '@typescript-eslint/require-await': 'off',
      // Off: cordon matches control characters on purpose (invisible characters in specs and
      // secrets, ANSI colours in terminal output); every such regex is the point of its code.
      'no-control-regex': 'off',
      // A variable a callback reads before its one assignment (a timer its own cleanup clears) stays `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // A promise nobody awaits loses its error (a lab step, a teardown) and its ordering.
      // node:test's describe/it/test return promises the runner itself awaits and reports.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
    },
  },
  // The dashboard (web/): browser code with DOM types and Preact's JSX, typed by web/tsconfig.json.
  {
    files: ['web/**/*.ts', 'web/**/*.tsx'],
    languageOptions: {
      parserOptions: {
        project: './web/tsconfig.json',
        tsconfigRootDir: dirname(fileURLToPath(import.meta.url)),
      },
    },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
);
