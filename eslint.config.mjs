// Lint rules that keep the layout of STYLE.md: lib cores free of Nest and TypeORM, no deep
// imports into another lib, no climbing out of a lib with ../, no console in the service.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'firmware-samples/**', '**/*.js', '**/*.cjs', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-require-imports': 'off',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^@fleetguard/[^/]+/(?!testing$).+', message: 'Import another lib only through its entry points: @fleetguard/<lib> or @fleetguard/<lib>/testing.' },
            { regex: '^(\\.\\./){3,}(libs|apps)/', message: 'Do not climb across libs with ../; use @fleetguard/<lib>.' },
          ],
        },
      ],
    },
  },
  {
    files: ['libs/*/src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^@nestjs/', message: 'A lib core imports neither Nest nor TypeORM (STYLE.md).' },
            { regex: '^typeorm', message: 'A lib core imports neither Nest nor TypeORM (STYLE.md).' },
            { regex: '^@fleetguard/(?!common$|common/testing$|[a-z]+-core$)', message: 'A lib core depends only on @fleetguard/common and other libs\' Nest-free `-core` entries (their indexes carry their Nest layers).' },
            { regex: '^@fleetguard/[^/]+/(?!testing$).+', message: 'Import another lib only through its entry points: @fleetguard/<lib> or @fleetguard/<lib>/testing.' },
          ],
        },
      ],
    },
  },
  {
    // Test helpers are for tests: product code never imports a /testing entry point.
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/*.int-spec.ts', '**/testing/**', 'libs/*/src/core/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^@fleetguard/[^/]+/.+', message: 'Product code imports another lib only through @fleetguard/<lib> (a /testing entry is for tests).' },
            { regex: '^(\\.\\./){3,}(libs|apps)/', message: 'Do not climb across libs with ../; use @fleetguard/<lib>.' },
          ],
        },
      ],
    },
  },
  {
    files: ['apps/fleet-server/**/*.ts', 'libs/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/*.int-spec.ts', '**/testing/**'],
    rules: { 'no-console': 'error' },
  },
);
