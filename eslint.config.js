/**
 * Lint: the module rules of docs/architecture.md, enforced. Kept small and deliberate: the
 * dependency graph between the concerns of src/ (and of connectors/, departments/, bench/),
 * no deep imports past a module's index.ts, nothing importing test/, one owner per sensitive
 * library, type-only imports marked, no default exports, no import cycles.
 */
const { readdirSync } = require('node:fs');
const tseslint = require('typescript-eslint');
const importX = require('eslint-plugin-import-x');
const { createNodeResolver } = require('eslint-plugin-import-x');

/**
 * Which concern of src/ may import which (besides itself). The one table behind the rules below
 * and the table in docs/architecture.md (test/unit/lint.test.ts checks they agree).
 */
const ALLOWED = {
  sdk: [],
  policy: ['sdk'],
  seal: ['sdk'],
  state: ['sdk'],
  audit: ['sdk', 'seal', 'state'],
  push: ['sdk', 'seal', 'state'],
  cases: ['sdk', 'state'],
  proofs: ['sdk', 'seal', 'state'],
  gateway: ['sdk', 'policy', 'seal', 'audit', 'state', 'push', 'cases', 'proofs'],
  http: ['gateway'],
  client: ['seal'],
  testing: ['sdk'],
  cli: ['sdk', 'policy', 'seal', 'audit', 'state', 'push', 'cases', 'proofs', 'gateway', 'http', 'client'],
};
const MODULES = Object.keys(ALLOWED);

/**
 * Modules of src/ that may import outside src/, through each folder's index.ts: only the CLI,
 * which starts the sandboxes. No module imports a connector: the gateway finds them at run time.
 */
const OUTSIDE = { cli: ['departments'] };
const folders = (dir) => readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);

/** The benchmark's own dependencies (bench/package.json), absent until `npm run bench` installs them. */
const BENCH_PACKAGES = Object.keys(require('./bench/package.json').dependencies);

/**
 * Packages only one module may import. The OpenTelemetry SDK (tracer provider, exporter, context
 * manager, resources) belongs to the gateway, which loads it only when tracing is configured;
 * the API package (@opentelemetry/api) is free for src/sdk and src/gateway (docs/tracing.md).
 */
const OWNED_PACKAGES = {
  'node-jose': 'seal',
  ioredis: 'state',
  '@opentelemetry/sdk-trace-base': 'gateway',
  '@opentelemetry/exporter-trace-otlp-http': 'gateway',
  '@opentelemetry/context-async-hooks': 'gateway',
  '@opentelemetry/resources': 'gateway',
};

/** Packages a connector may use besides the SDK: protocol clients and parsers. */
const CONNECTOR_PACKAGES = ['dataloader', 'pg', 'undici', 'zod', 'fast-xml-parser', 'graphql'];

const zones = [];
for (const target of MODULES) {
  for (const from of MODULES) {
    if (from === target) continue;
    if (ALLOWED[target].includes(from)) {
      // Allowed, but only through the module's public face.
      zones.push({ target: `./src/${target}`, from: `./src/${from}`, except: ['./index.ts'], message: `import src/${from} through its index.ts, not its internals` });
    } else {
      zones.push({ target: `./src/${target}`, from: `./src/${from}`, message: `src/${target} may not depend on src/${from} (docs/architecture.md)` });
    }
  }
  for (const outside of ['connectors', 'departments']) {
    if (!(OUTSIDE[target] ?? []).includes(outside)) {
      zones.push({ target: `./src/${target}`, from: `./${outside}`, message: `src/${target} may not import ${outside}/ (docs/architecture.md)` });
    } else if (outside === 'departments') {
      zones.push({ target: `./src/${target}`, from: './departments', except: ['./index.ts'], message: 'import the sandboxes through departments/index.ts' });
    } else {
      for (const name of folders(outside)) {
        zones.push({ target: `./src/${target}`, from: `./${outside}/${name}`, except: ['./index.ts'], message: `import ${outside}/${name} through its index.ts` });
      }
    }
  }
  zones.push({ target: `./src/${target}`, from: './bench', message: `src/${target} may not import the benchmark` });
}
// Connectors see only the SDK's public face; sandboxes, like connectors, only the SDK.
for (const dir of ['./connectors', './departments']) {
  zones.push({ target: dir, from: './src', except: ['./sdk/index.ts'], message: 'connectors and sandboxes import only src/sdk (its index.ts)' });
}
zones.push({ target: './connectors', from: ['./departments', './bench'], message: 'a connector imports only src/sdk, its own files and protocol libraries' });
zones.push({ target: './departments', from: ['./connectors', './bench'], message: 'a sandbox does not import connectors or the benchmark' });
// Nothing imports the tests.
zones.push({ target: ['./src', './connectors', './departments', './bench'], from: './test', message: 'nothing outside test/ imports the tests' });

/**
 * Start-up code: it runs before the hub answers anything, and its errors end the process with a
 * message and an exit code instead of reaching a client. Only these files of src/ may throw a
 * bare Error: the datarun command (its arguments and files are checked before anything runs),
 * the configuration loader and the schema loader (both run once, when the hub is composed).
 */
const STARTUP_FILES = ['src/cli/**/*.ts', 'src/gateway/config.ts', 'src/gateway/schema.ts'];

/** Errors in src/ carry a stable code of the contract (src/sdk/error-codes.ts). */
const BARE_ERROR = {
  selector: 'ThrowStatement > NewExpression[callee.name=/^(Error|TypeError|RangeError)$/]',
  message: 'throw a coded HubError subclass (its code in ERROR_CODES, src/sdk/error-codes.ts), not a bare Error: clients, the CLI and operators rely on the code',
};

function ownedPackagePatterns(owner) {
  return Object.entries(OWNED_PACKAGES)
    .filter(([, o]) => o !== owner)
    .map(([name, o]) => ({ group: [name, `${name}/*`], message: `${name} is imported only in src/${o}` }));
}

/**
 * The request pipeline and what it is built from know no transport: they never import an HTTP
 * server or client module, so no stage can set a status or a header (src/http maps reply codes).
 */
const TRANSPORT_FREE = ['sdk', 'policy', 'seal', 'state', 'audit', 'gateway'];
const TRANSPORT_PATTERNS = [
  { group: ['http', 'https', 'http2', 'node:http', 'node:https', 'node:http2'], message: 'the pipeline modules know no transport: only src/http (and src/cli) import node:http' },
];

module.exports = tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/', 'bench/node_modules/', 'bench/results/', '**/generated/', 'test/fixtures/lint/'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser, ecmaVersion: 2022, sourceType: 'module' },
    plugins: { 'import-x': importX, '@typescript-eslint': tseslint.plugin },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json', '.node', '.d.ts'] })],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones }],
      'import-x/no-default-export': 'error',
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // The bench's own packages are installed only by `npm run bench` (bench/package.json).
      'import-x/no-unresolved': ['error', { ignore: BENCH_PACKAGES.map((name) => `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(/|$)`) }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-restricted-imports': ['error', { patterns: ownedPackagePatterns(undefined) }],
    },
  },
  ...[...new Set([...Object.values(OWNED_PACKAGES), ...TRANSPORT_FREE])].map((module) => ({
    files: [`src/${module}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns: [...ownedPackagePatterns(module), ...(TRANSPORT_FREE.includes(module) ? TRANSPORT_PATTERNS : [])] }] },
  })),
  {
    files: ['src/**/*.ts'],
    ignores: STARTUP_FILES,
    rules: { 'no-restricted-syntax': ['error', BARE_ERROR] },
  },
  {
    files: ['connectors/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(?!\\.|node:|(${CONNECTOR_PACKAGES.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})(/|$))`,
              message: `a connector imports only src/sdk, its own files, node: modules and the protocol libraries ${CONNECTOR_PACKAGES.join(', ')}`,
            },
          ],
        },
      ],
    },
  },
  {
    // Configuration files are CommonJS scripts.
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', ecmaVersion: 2022 },
  },
  {
    // The browser code: the auditor console's and the landing page's ES modules, served as they
    // are, and the explorer's entry module, bundled by scripts/build-explorer.js.
    files: ['src/http/console/**/*.js', 'src/http/landing/**/*.js', 'src/http/explorer/**/*.js'],
    languageOptions: { sourceType: 'module', ecmaVersion: 2022 },
  },
);

module.exports.ALLOWED = ALLOWED;
module.exports.OUTSIDE = OUTSIDE;
module.exports.STARTUP_FILES = STARTUP_FILES;
module.exports.TRANSPORT_FREE = TRANSPORT_FREE;
