/**
 * Jest runs the TypeScript sources through SWC: no type-check at test time (that is `npm run
 * typecheck`), no experimental Node flags. Two projects: `unit` (no servers, no sockets, seconds)
 * and `integration` (real sockets, PostgreSQL, Redis, hub processes); `measure` holds measurements
 * kept out of `npm test`. Every deadline is the suite's hang deadline (test/support/deadline.ts):
 * it catches a hang, it never measures speed. A test file as a whole has one too (20 min,
 * DATARUN_TEST_FILE_HANG_MS, test/support/watchdog-environment.js), which holds even when the
 * worker's event loop does not turn.
 */
const HANG_DEADLINE_MS = Number(process.env.DATARUN_TEST_HANG_MS) > 0 ? Number(process.env.DATARUN_TEST_HANG_MS) : 180_000;
/** A test file's deadline as a whole (the slowest file takes about 7 min on a busy two-core machine). */
const FILE_DEADLINE_MS = Number(process.env.DATARUN_TEST_FILE_HANG_MS) > 0 ? Number(process.env.DATARUN_TEST_FILE_HANG_MS) : 20 * 60_000;

/**
 * The OTLP exporter loads node:http with `import()`, which Jest's module sandbox refuses without
 * experimental flags: that one package's CommonJS is passed through SWC, which turns `import()`
 * into `require` (src/gateway/tracing.ts, test/integration/tracing.test.ts).
 */
const OTLP_EXPORTER_BASE = '@opentelemetry/otlp-exporter-base';

const common = {
  // Node's environment with a deadline per test file, watched from outside the file's event loop.
  testEnvironment: '<rootDir>/test/support/watchdog-environment.js',
  testEnvironmentOptions: { fileDeadlineMs: FILE_DEADLINE_MS },
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
    [`/${OTLP_EXPORTER_BASE}/.+\\.js$`]: ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'ecmascript' } }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: [`/node_modules/(?!${OTLP_EXPORTER_BASE}/)`],
};

module.exports = {
  testTimeout: HANG_DEADLINE_MS,
  maxWorkers: 2,
  // A worker whose heap in use exceeds this after a file is replaced by a fresh one. Files leave
  // little behind (under 100 MB after a collection), but uncollected garbage read 1.1 GB after some
  // files in a CI run, with RSS at 2.5 GB: the guard keeps a worker far from V8's limit of about
  // 4 GB, where garbage collection would take all its time.
  workerIdleMemoryLimit: '1GB',
  projects: [
    { ...common, displayName: 'unit', roots: ['<rootDir>/test/unit'], testMatch: ['**/*.test.ts'] },
    { ...common, displayName: 'integration', roots: ['<rootDir>/test/integration', '<rootDir>/test/conformance'], testMatch: ['**/*.test.ts'] },
    { ...common, displayName: 'measure', roots: ['<rootDir>/test/measure'], testMatch: ['**/*.measure.ts'] },
  ],
};
