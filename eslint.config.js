// @ts-check
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const IO_MODULES = [
  'ioredis',
  'bullmq',
  'fastify',
  'nodemailer',
  'node:fs',
  'node:fs/promises',
  'node:net',
  'node:dns',
  'node:child_process',
]
const noDeepImports = {
  group: ['@outbound/*/src/*', '../../packages/*', '../../services/*'],
  message: 'import a package by name (STYLE.md §2.5)',
}

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      'var/**',
      '**/vitest.config.ts',
      'packages/testing/vitest.shared.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-confusing-void-expression': 'off',
      'no-restricted-imports': ['error', { patterns: [noDeepImports] }],
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'read process.env only in main.ts (STYLE.md §6)',
        },
      ],
    },
  },
  {
    // Domain packages are pure: no I/O modules (STYLE.md §2.2).
    files: ['packages/address/src/**/*.ts', 'packages/jobs/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: IO_MODULES.map((name) => ({ name, message: 'domain packages do no I/O' })),
          patterns: [noDeepImports],
        },
      ],
    },
  },
  {
    // Packages never import a service.
    files: ['packages/**/*.ts'],
    ignores: ['packages/address/**', 'packages/jobs/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            noDeepImports,
            {
              group: ['@outbound/api', '@outbound/worker', '@outbound/all-in-one'],
              message: 'packages never import a service',
            },
          ],
        },
      ],
    },
  },
  {
    // The processes' entry points, test set-up and the tools read the environment.
    files: [
      '**/src/main.ts',
      '**/test/**/*.ts',
      'packages/testing/src/**/*.ts',
      'services/bench/src/**/*.ts',
    ],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['**/*.test.ts', 'packages/testing/src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-confusing-void-expression': 'off',
    },
  },
  {
    files: ['eslint.config.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
)
