/**
 * The SDK from outside the repository: `npm pack` (which builds), a new project in the system's
 * temporary directory that installs the tarball with TypeScript, jest and @swc/jest from the npm
 * cache (preferring it: npm 11 wants the full metadata of some packages, which an install from
 * the lockfile does not cache, so what the cache lacks comes from the registry), `datarun connector new` through the installed bin, the new connector compiled
 * by `tsc` (strict; node16, node10 and bundler resolution) and its conformance test run by jest untouched; then the kit, from the
 * tarball, against the five connectors and sandboxes the tarball ships (real estate and tax through
 * the kit's TCP fault proxy). Slow by nature (a build, an install, three jest and tsc runs): its
 * deadline only catches a hang. It leaves nothing in the repository.
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HANG_DEADLINE_MS } from '../support/deadline';

const root = path.resolve(__dirname, '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** A build, an install and several tsc/jest runs on a busy 2-core machine. */
const PACKAGE_DEADLINE_MS = Math.max(HANG_DEADLINE_MS, 900_000);

/** The environment of the child commands: none of the npm_* variables of an enclosing `npm test` (they would steer the inner npm). */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!/^npm_/i.test(name) || /^npm_config_cache$/i.test(name)) env[name] = value;
  return { ...env, NO_COLOR: '1', FORCE_COLOR: '0', CI: 'true' };
}

function run(command: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, env: childEnv(), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: PACKAGE_DEADLINE_MS });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`);
  }
  return result;
}

/** The version of a package installed in this repository (the one the npm cache holds). */
const installed = (name: string): string => (JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

const gitStatus = () => execFileSync('git', ['status', '--porcelain', '--untracked-files=all', '--', '.', ':!node_modules', ':!bench/node_modules'], { cwd: root, encoding: 'utf8' });

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    lib: ['ES2023'],
    module: 'node16',
    moduleResolution: 'node16',
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    types: ['node', 'jest'],
    esModuleInterop: true,
    skipLibCheck: false,
  },
  include: ['connectors', 'test'],
};

const JEST_CONFIG = `module.exports = {
  testEnvironment: 'node',
  testTimeout: 120000,
  transform: { '^.+\\\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
};
`;

/** The kit against the connectors and sandboxes of the tarball: what an integrator's project can run. */
const SHIPPED_TEST = `import { connectorModule as housingFund } from 'datarun/connectors/housing-fund';
import { connectorModule as marketRegulation, type MarketRegulationLoaders } from 'datarun/connectors/market-regulation';
import { connectorModule as realEstate, type RealEstateLoaders } from 'datarun/connectors/real-estate';
import { connectorModule as socialSecurity, type SocialSecurityLoaders } from 'datarun/connectors/social-security';
import { connectorModule as tax, type TaxLoaders } from 'datarun/connectors/tax';
import type { GraphqlLoaders } from 'datarun/sdk';
import { generateSeed, startSandboxes, type FaultSettings, type Sandbox, type SandboxSet } from 'datarun/departments';
import { describeConnectorConformance, startTcpFaultProxy, type ConformanceUpstream, type FaultMode, type UpstreamFault } from 'datarun/testing';

const data = generateSeed({ seed: 1, size: 200 });
const stranger = generateSeed({ seed: 999, size: 800 });
const hundred = (known: string[], unknown: string[]) => [...known, ...unknown].slice(0, 100);
let set: SandboxSet;
beforeAll(async () => {
  set = await startSandboxes(data);
}, 120000);
afterAll(async () => {
  await set?.close();
}, 120000);

function sandboxFault(fault: UpstreamFault): Partial<FaultSettings> {
  if (fault.mode === 'error') return { errorRate: 1 };
  if (fault.mode === 'slow') return { mode: 'slow', slowMs: fault.delayMs ?? 30000 };
  if (fault.mode === 'down' || fault.mode === 'malformed') return { mode: fault.mode };
  return { mode: 'none', errorRate: 0 };
}

async function upstreamOf(sandbox: Sandbox, viaProxy: FaultMode[], malformedBytes?: string): Promise<ConformanceUpstream & { url: string }> {
  const target = new URL(sandbox.url);
  const proxy = await startTcpFaultProxy({ target: { host: target.hostname, port: Number(target.port) }, ...(malformedBytes ? { malformedBytes } : {}) });
  return {
    url: proxy.rewriteUrl(sandbox.url),
    faults: ['none', 'down', 'slow', 'error', 'malformed', ...(viaProxy.includes('reset') ? (['reset'] as const) : [])],
    setFault(fault) {
      proxy.setFault({ mode: 'none' });
      sandbox.control.reset();
      if (viaProxy.includes(fault.mode)) proxy.setFault(fault);
      else sandbox.control.setFaults(sandboxFault(fault));
    },
    calls: () => sandbox.control.totalCalls(),
    reset() {
      proxy.reset();
      sandbox.control.reset();
    },
    close: () => proxy.close(),
  };
}

const MALFORMED_SOAP = ['HTTP/1.1 200 OK', 'content-type: text/xml; charset=utf-8', 'content-length: 24', 'connection: close', '', '<soap:Envelope><cut off '].join('\\r\\n');
const personalData = [...data.persons.flatMap((p) => [p.idNumber, p.name]), ...data.enterprises.map((e) => e.name)];

describeConnectorConformance({
  id: 'real-estate',
  personalData,
  upstream: () => upstreamOf(set.sandboxes['real-estate']!, ['down', 'slow', 'reset']),
  module: realEstate,
  settings: (upstream, timeoutMs) => ({ url: upstream.url, timeoutMs }),
  primaryLoader: (loaders: RealEstateLoaders) => loaders.propertyByUnit,
  knownKeys: data.properties.map((p) => p.unitNumber),
  unknownKey: stranger.properties[0]!.unitNumber,
  batchKeys: hundred(data.properties.map((p) => p.unitNumber), stranger.properties.map((p) => p.unitNumber)),
  keyOf: (record) => record.unitNumber,
});

describeConnectorConformance({
  id: 'tax',
  personalData,
  upstream: () => upstreamOf(set.sandboxes.tax!, ['down', 'malformed', 'reset'], MALFORMED_SOAP),
  module: tax,
  settings: (upstream, timeoutMs) => ({ url: upstream.url, timeoutMs }),
  primaryLoader: (loaders: TaxLoaders) => loaders.taxpayerById,
  knownKeys: data.taxpayers.map((t) => t.taxpayerId),
  unknownKey: stranger.persons[0]!.idNumber,
  keyOf: (record) => record.taxpayerId,
});

describeConnectorConformance({
  id: 'social-security',
  personalData,
  upstream: () => upstreamOf(set.sandboxes['social-security']!, []),
  module: socialSecurity,
  settings: (upstream, timeoutMs) => ({ ...set.endpoints['social-security'], baseUrl: upstream.url, timeoutMs }),
  primaryLoader: (loaders: SocialSecurityLoaders) => loaders.insuredById,
  knownKeys: data.insured.map((i) => i.idNumber),
  unknownKey: stranger.persons[0]!.idNumber,
  keyOf: (record) => record.idNumber,
});

describeConnectorConformance({
  id: 'market-regulation',
  personalData,
  upstream: () => upstreamOf(set.sandboxes['market-regulation']!, []),
  module: marketRegulation,
  settings: (upstream, timeoutMs) => ({ baseUrl: upstream.url, timeoutMs }),
  primaryLoader: (loaders: MarketRegulationLoaders) => loaders.enterpriseByCode,
  knownKeys: data.enterprises.map((e) => e.creditCode),
  unknownKey: stranger.enterprises[0]!.creditCode,
  batchKeys: hundred(data.enterprises.map((e) => e.creditCode), stranger.enterprises.map((e) => e.creditCode)),
  keyOf: (record) => record.creditCode,
});

describeConnectorConformance({
  id: 'housing-fund',
  personalData,
  upstream: () => upstreamOf(set.sandboxes['housing-fund']!, ['down']),
  module: housingFund,
  settings: (upstream, timeoutMs) => ({ url: upstream.url, timeoutMs }),
  primaryLoader: (loaders: GraphqlLoaders) => loaders.recordLoader('FundAccount'),
  knownKeys: data.fundAccounts.map((a) => a.accountNumber),
  unknownKey: '9999999999999999',
  batchKeys: hundred(data.fundAccounts.map((a) => a.accountNumber), Array.from({ length: 100 }, (_, i) => '99999999999' + String(i).padStart(5, '0'))),
  keyOf: (record) => record.accountNumber,
});
`;

describe('the datarun package, outside the repository', () => {
  let temp: string | undefined;
  let statusBefore: string;

  beforeAll(() => {
    statusBefore = gitStatus();
  });
  afterAll(() => {
    if (temp) rmSync(temp, { recursive: true, force: true });
  });

  it(
    'packs, installs from the npm cache, writes a connector with `datarun connector new`, compiles it strict and passes the kit untouched; the kit passes against the shipped connectors and sandboxes',
    () => {
      temp = mkdtempSync(path.join(os.tmpdir(), 'datarun-sdk-package-'));
      expect(path.relative(root, temp).startsWith('..')).toBe(true);

      // 1. The tarball (prepack builds), written outside the repository.
      const packDir = path.join(temp, 'pack');
      mkdirSync(packDir);
      run(npm, ['pack', '--pack-destination', packDir, '--silent'], root);
      const tarballs = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
      expect(tarballs).toHaveLength(1);
      const tarball = path.join(packDir, tarballs[0]!);
      const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }).split('\n');
      expect(listing).toEqual(expect.arrayContaining(['package/dist/src/sdk/index.d.ts', 'package/dist/src/testing/index.d.ts', 'package/dist/src/cli/main.js', 'package/bin/datarun', 'package/schema/shared.graphql', 'package/docs/connector-guide.md', 'package/keys/README.md', 'package/dist/departments/tax/tax.wsdl']));
      expect(listing.filter((f) => /(^|\/)(test|private)\/|\.test\.|\.map$|\.jwk\.json$/.test(f))).toEqual([]);

      // 2. A project of the integrator's, installing from the npm cache only.
      const project = path.join(temp, 'project');
      mkdirSync(project);
      writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'outside-project', version: '1.0.0', private: true }, null, 2));
      writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
      writeFileSync(path.join(project, 'jest.config.js'), JEST_CONFIG);
      const tools = ['typescript', 'jest', '@swc/jest', '@swc/core', '@types/jest', '@types/node'].map((name) => `${name}@${installed(name)}`);
      run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball, ...tools], project);

      // 3. A new connector, through the installed bin.
      const bin = path.join(project, 'node_modules', '.bin', 'datarun');
      const created = run(bin, ['connector', 'new', 'water-utility', '--title', 'Water utility 供水'], project);
      expect(created.stdout).toContain('connectors/water-utility');
      const folder = path.join(project, 'connectors', 'water-utility');
      expect(readdirSync(folder).sort()).toEqual(['README.md', 'conformance.test.ts', 'index.ts', 'schema.graphql']);
      for (const file of ['index.ts', 'conformance.test.ts']) {
        const imports = [...readFileSync(path.join(folder, file), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]);
        expect(imports.filter((i) => !['datarun/sdk', 'datarun/testing', 'node:path', './index'].includes(i!))).toEqual([]);
      }

      // 4. The shipped connectors' test beside it, then tsc (strict) over both.
      mkdirSync(path.join(project, 'test'));
      writeFileSync(path.join(project, 'test', 'shipped.test.ts'), SHIPPED_TEST);
      const tsc = path.join(project, 'node_modules', '.bin', 'tsc');
      run(tsc, ['-p', '.'], project);
      // The exports resolve under the other module resolutions too: node10 (through typesVersions) and bundler.
      run(tsc, ['-p', '.', '--module', 'commonjs', '--moduleResolution', 'node10'], project);
      run(tsc, ['-p', '.', '--module', 'preserve', '--moduleResolution', 'bundler'], project);
      // Outside jest, the kit says where it must run.
      const outside = spawnSync(process.execPath, ['-e', "require('datarun/testing').describeConnectorConformance({ id: 'x', upstream: async () => ({}), createConnector() {}, primaryLoader() {}, keyOf() {}, knownKeys: [], unknownKey: '' })"], { cwd: project, encoding: 'utf8' });
      expect(outside.status).not.toBe(0);
      expect(outside.stderr).toContain('must be called from a test file run by jest');

      // 5. The kit on the new connector, untouched.
      const jest = path.join(project, 'node_modules', '.bin', 'jest');
      const own = run(jest, ['connectors/water-utility', '--ci'], project);
      expect(`${own.stdout}${own.stderr}`).toMatch(/Tests:\s+10 passed, 10 total/);

      // 6. The kit on the shipped connectors over the shipped sandboxes.
      const shipped = run(jest, ['test/shipped.test.ts', '--ci'], project);
      // The five connectors of the project, from the tarball: every check passed, none failed or skipped.
      const summary = /Tests:\s+(\d+) passed, (\d+) total/.exec(`${shipped.stdout}${shipped.stderr}`);
      expect(summary?.[1]).toBe(summary?.[2]);
      expect(Number(summary?.[1])).toBeGreaterThanOrEqual(5 * 9);
      expect(`${shipped.stdout}${shipped.stderr}`).toContain('connector "housing-fund" conformance');

      // Nothing left in the repository.
      expect(gitStatus()).toBe(statusBefore);
      expect(readdirSync(root).filter((f) => f.endsWith('.tgz'))).toEqual([]);
      expect(existsSync(path.join(project, 'node_modules', 'datarun', 'dist', 'src', 'testing', 'index.js'))).toBe(true);
    },
    PACKAGE_DEADLINE_MS,
  );
});
