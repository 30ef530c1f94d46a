// Lint rules that keep the layout of STYLE.md: lib cores free of Nest and TypeORM, no deep
// imports into another lib, no climbing out of a lib with ../, no console in the service.
import tseslint from 'typescript-eslint';

// Each lib has three entry points: @fleetguard/<lib> (its core: no Nest, no TypeORM),
// @fleetguard/<lib>/nest (its Nest layer) and @fleetguard/<lib>/testing (helpers for tests).
const ENTRY_ONLY = '^@fleetguard/[^/]+/(?!nest$|testing$).+';
const ENTRY_ONLY_MESSAGE = 'Import a lib only through its entry points: @fleetguard/<lib>, @fleetguard/<lib>/nest or @fleetguard/<lib>/testing.';

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
            { regex: ENTRY_ONLY, message: ENTRY_ONLY_MESSAGE },
            { regex: '^@fleetguard/[a-z-]+-core$', message: 'The -core aliases are gone: a lib\'s core is @fleetguard/<lib>.' },
            { regex: '^(\\.\\./){3,}(libs|apps)/', message: 'Do not climb across libs with ../; use @fleetguard/<lib>.' },
          ],
        },
      ],
    },
  },
  {
    files: ['libs/*/src/core/**/*.ts', 'libs/device-kit/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^@nestjs/', message: 'A lib core imports neither Nest nor TypeORM (STYLE.md).' },
            { regex: '^typeorm', message: 'A lib core imports neither Nest nor TypeORM (STYLE.md).' },
            { regex: '^@fleetguard/[^/]+/nest$', message: 'A lib core (and the device kit) imports other libs\' cores only (@fleetguard/<lib>), never a Nest layer (@fleetguard/<lib>/nest).' },
            { regex: ENTRY_ONLY, message: ENTRY_ONLY_MESSAGE },
          ],
        },
      ],
    },
  },
  {
    // Test helpers are for tests: product code never imports a /testing entry point, and the
    // service never loads the device kit.
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/*.int-spec.ts', '**/testing/**', 'libs/*/src/core/**', 'libs/device-kit/**', 'apps/device-sim/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^@fleetguard/[^/]+/testing$', message: 'Product code never imports a /testing entry (test helpers are for tests).' },
            { regex: '^@fleetguard/device-kit$', message: 'The service never loads the device kit (it is the device side, for device-sim, tests and benches).' },
            { regex: ENTRY_ONLY, message: ENTRY_ONLY_MESSAGE },
            { regex: '^(\\.\\./){3,}(libs|apps)/', message: 'Do not climb across libs with ../; use @fleetguard/<lib>.' },
          ],
        },
      ],
    },
  },
  {
    // The device simulator is the device side: cores and the device kit, never the service's Nest layers.
    files: ['apps/device-sim/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/*.int-spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^@fleetguard/[^/]+/nest$', message: 'The device simulator never loads the service\'s Nest layers: use the cores and @fleetguard/device-kit.' },
            { regex: '^@fleetguard/[^/]+/testing$', message: 'Product code never imports a /testing entry (test helpers are for tests).' },
            { regex: ENTRY_ONLY, message: ENTRY_ONLY_MESSAGE },
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
