// @ts-check
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const IO_MODULES = [
  'ioredis',
  'bullmq',
  'fastify',
  'nodemailer',
  'undici',
  'node:fs',
  'node:fs/promises',
  'node:net',
  'node:dns',
  'node:dns/promises',
  'node:child_process',
  'node:http',
  'node:https',
  'node:os',
  'node:worker_threads',
]
// The same modules imported without the `node:` prefix are refused too.
const IO_IMPORTS = IO_MODULES.flatMap((name) =>
  name.startsWith('node:') ? [name, name.slice('node:'.length)] : [name],
)
// Pure packages: data in, decision out (STYLE.md §2.2). Their tests may do anything.
const PURE_PACKAGES = ['routing', 'rewrite', 'quota', 'bounce', 'deliverability', 'address', 'jobs']
const PURE_SOURCES = PURE_PACKAGES.map((name) => `packages/${name}/src/**/*.ts`)
const PURE_TESTS = ['packages/*/src/**/*.test.ts']
const PURE_MESSAGE = 'pure packages take the clock and randomness as arguments (STYLE.md §2.2)'
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
    // Packages never import a service.
    files: ['packages/**/*.ts'],
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
    // Pure packages: no I/O module, no process.env, no clock, no randomness (STYLE.md §2.2).
    files: PURE_SOURCES,
    ignores: PURE_TESTS,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: IO_IMPORTS.map((name) => ({
            name,
            message: 'pure packages do no I/O (STYLE.md §2.2)',
          })),
          patterns: [
            noDeepImports,
            {
              group: ['@outbound/api', '@outbound/worker', '@outbound/all-in-one'],
              message: 'packages never import a service',
            },
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'pure packages never read process.env' },
        { object: 'Date', property: 'now', message: PURE_MESSAGE },
        { object: 'Math', property: 'random', message: PURE_MESSAGE },
        { object: 'crypto', property: 'randomUUID', message: PURE_MESSAGE },
        { object: 'crypto', property: 'randomBytes', message: PURE_MESSAGE },
        { object: 'crypto', property: 'getRandomValues', message: PURE_MESSAGE },
        { object: 'performance', property: 'now', message: PURE_MESSAGE },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: `new Date() reads the clock: ${PURE_MESSAGE}`,
        },
        {
          selector: "CallExpression[callee.name='Date'][arguments.length=0]",
          message: `Date() reads the clock: ${PURE_MESSAGE}`,
        },
        {
          selector:
            'ImportDeclaration[source.value=/^(node:)?crypto$/] > ImportSpecifier[imported.name=/^(randomUUID|randomBytes|randomInt|getRandomValues)$/]',
          message: PURE_MESSAGE,
        },
        {
          selector: 'ImportDeclaration[source.value=/^(node:)?perf_hooks$/]',
          message: PURE_MESSAGE,
        },
        {
          selector: "MemberExpression[object.name='process'][property.name=/^(hrtime|uptime)$/]",
          message: PURE_MESSAGE,
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
      'scripts/**/*.mjs',
      'packages/client/{scripts,test}/*.mjs',
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
    files: ['eslint.config.js', 'scripts/**/*.mjs', 'packages/client/{scripts,test}/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    // The client's generator and its plain-JavaScript test run under Node.
    files: ['packages/client/{scripts,test}/*.mjs'],
    languageOptions: {
      globals: Object.fromEntries(
        ['process', 'console', 'fetch', 'URL', 'setTimeout'].map((name) => [name, 'readonly']),
      ),
    },
  },
)
