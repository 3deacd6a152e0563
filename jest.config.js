/**
 * Jest runs the TypeScript sources through SWC: no type-check at test time (that is `npm run
 * typecheck`), no experimental Node flags. Two projects: `unit` (no servers, no sockets, seconds)
 * and `integration` (real sockets, PostgreSQL, Redis, hub processes); `measure` holds measurements
 * kept out of `npm test`. Every deadline is the suite's hang deadline (test/support/deadline.ts):
 * it catches a hang, it never measures speed.
 */
const HANG_DEADLINE_MS = Number(process.env.DATARUN_TEST_HANG_MS) > 0 ? Number(process.env.DATARUN_TEST_HANG_MS) : 180_000;

const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
};

module.exports = {
  testTimeout: HANG_DEADLINE_MS,
  maxWorkers: 2,
  projects: [
    { ...common, displayName: 'unit', roots: ['<rootDir>/test/unit'], testMatch: ['**/*.test.ts'] },
    { ...common, displayName: 'integration', roots: ['<rootDir>/test/integration', '<rootDir>/test/conformance'], testMatch: ['**/*.test.ts'] },
    { ...common, displayName: 'measure', roots: ['<rootDir>/test/measure'], testMatch: ['**/*.measure.ts'] },
  ],
};
