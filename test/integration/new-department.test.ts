/**
 * A new department is one folder: a connector folder put in a directory of the configuration's
 * `connectorDirs`, its settings and grants configured, and nothing else changed. The hub finds it,
 * refuses to start until its department has a seal key (`datarun keys init`), then queries it,
 * seals its records, checks the policy and records every access.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { configuredDepartments, runKeysInit } from '../../src/cli/keys';
import { createDataRunClient } from '../../src/client';
import { createGateway, discoverConnectorModules, loadConfig, type DepartmentEndpoints, type Gateway } from '../../src/gateway';
import { startHubServer, type HubServer } from '../../src/http';

const root = path.resolve(__dirname, '../..');
const ID = 'water-utility';
const PERSON = '11010519491231002X';

/** The connector as an integrator writes it, compiled to CommonJS: it imports only the SDK. */
const CONNECTOR = `
const { createBatchLoader, createHttpUpstream, defineConnector, defineConnectorModule, settingSchemas, z, UpstreamInvalidResponseError } = require(${JSON.stringify(path.join(root, 'src/sdk'))});

const SDL = \`
"A household's water account 供水账户."
type WaterAccount {
  accountNumber: ID! @share(class: UNCONDITIONAL, department: "${ID}", updateCycle: DAILY)
  "Unpaid bills, yuan."
  arrears: Float! @share(class: CONDITIONAL, purposes: ["UTILITY_CHECK"], department: "${ID}", updateCycle: DAILY)
  seal: Seal @share(class: UNCONDITIONAL, department: "seal", updateCycle: REAL_TIME)
}
extend type Person {
  "The person's water account; null when there is none."
  waterAccount: WaterAccount @share(class: CONDITIONAL, purposes: ["UTILITY_CHECK"], department: "${ID}", updateCycle: DAILY)
}
\`;

exports.connectorModule = defineConnectorModule({
  id: '${ID}',
  title: 'Water utility 供水',
  settings: z.strictObject({ baseUrl: settingSchemas.httpUrl(), timeoutMs: settingSchemas.timeoutMs().optional() }),
  typeDefs: () => SDL,
  cacheTtlSeconds: 0,
  create(settings, environment) {
    const upstream = createHttpUpstream({ connector: '${ID}', baseUrl: settings.baseUrl, timeoutMs: settings.timeoutMs ?? environment.defaultTimeoutMs });
    async function accounts(ids, signal) {
      const reply = await upstream.request({ method: 'POST', path: '/accounts', body: JSON.stringify({ ids }), signal });
      const body = JSON.parse(reply.body);
      if (!Array.isArray(body.accounts)) throw new UpstreamInvalidResponseError('${ID}', 'accounts is not a list');
      return new Map(body.accounts.map((a) => [a.holder, a]));
    }
    return defineConnector({
      id: '${ID}',
      title: 'Water utility 供水',
      createLoaders: (scope) => ({ byHolder: createBatchLoader((ids) => accounts(ids, scope.signal)) }),
      resolvers: (loaders) => ({ Person: { waterAccount: (person, _args, ctx) => loaders(ctx).byHolder.load(person.idNumber) } }),
      seals: {
        WaterAccount: {
          recordType: 'WaterAccount',
          load: (account) => Promise.resolve(account),
          id: (record) => record.accountNumber,
          fields: (record) => ({ accountNumber: record.accountNumber, arrears: record.arrears }),
        },
      },
      probe: async () => undefined,
      stop: () => upstream.close(),
    });
  },
});
`;

const POLICY = {
  version: 1,
  consent: { maxLifetime: 'PT24H' },
  purposes: [
    { code: 'UTILITY_CHECK', description: '水费欠费核查: utility arrears check for a housing subsidy', legalBasis: 'a test regulation', requiresConsent: false },
    { code: 'AUDIT', description: '审计: the audit of data access', legalBasis: 'a test regulation' },
    // The hub's own citizen view names this purpose in its SDL: every policy defines it.
    { code: 'CITIZEN_ACCESS_VIEW', description: '本人数据访问查询: who accessed a citizen\'s data', legalBasis: 'a test regulation', requiresConsent: true },
  ],
  consumers: [
    {
      id: 'civil-affairs',
      name: '民政局 civil affairs bureau',
      roles: ['consumer'],
      grants: [{ fields: ['Query.person', 'Person.idNumber', 'Person.waterAccount', 'WaterAccount'], purposes: ['UTILITY_CHECK'] }],
    },
    // Signs citizens' consents (the purpose above needs an issuer); it reads nothing itself.
    { id: 'citizen-identity', name: '公民身份认证平台 citizen identity platform', roles: ['consent-issuer'], grants: [] },
    { id: 'tax-bureau', name: '税务局 tax bureau', roles: ['consumer'], grants: [{ fields: ['Query.person', 'Person.idNumber'], purposes: ['UTILITY_CHECK'] }] },
    {
      id: 'auditor',
      name: '审计 auditor',
      roles: ['auditor'],
      grants: [{ fields: ['Query.accessLog', 'AccessRecordConnection', 'AccessRecordEdge', 'AccessRecord', 'AccessSubject', 'DepartmentFields', 'PageInfo'], purposes: ['AUDIT'] }],
    },
  ],
};

describe('a department added as one folder', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'datarun-new-department-'));
  const connectorsDir = path.join(dir, 'connectors');
  const keysDir = path.join(dir, 'keys');
  const configFile = path.join(dir, 'datarun.json');
  let upstream: http.Server;
  let upstreamCalls = 0;
  let gateway: Gateway | undefined;
  let server: HubServer | undefined;

  beforeAll(async () => {
    mkdirSync(path.join(connectorsDir, ID), { recursive: true });
    writeFileSync(path.join(connectorsDir, ID, 'index.js'), CONNECTOR);
    writeFileSync(path.join(dir, 'policy.json'), JSON.stringify(POLICY));
    // The department's own system: one batched call answers many holders.
    upstream = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        upstreamCalls++;
        const { ids } = JSON.parse(body) as { ids: string[] };
        const accounts = ids.filter((id) => id === PERSON).map((holder) => ({ holder, accountNumber: 'W-0001', arrears: 12.5 }));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ accounts }));
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const others = Object.fromEntries(discoverConnectorModules().map((f) => [f.module.id, { enabled: false }]));
    writeFileSync(
      configFile,
      JSON.stringify({
        connectorDirs: [connectorsDir],
        connectors: { ...others, [ID]: { baseUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` } },
        keys: { dir: keysDir },
        audit: { dir: path.join(dir, 'audit'), instanceId: 'new-department' },
        policy: { file: path.join(dir, 'policy.json') },
      }),
    );
  });

  afterAll(async () => {
    await server?.close();
    await gateway?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const start = () => {
    const config = loadConfig({ file: configFile, env: {} });
    const endpoints: DepartmentEndpoints = Object.fromEntries(Object.entries(config.connectors).filter(([, s]) => s.enabled !== false));
    return createGateway(config, endpoints);
  };

  it('is found and configured from the configuration alone', () => {
    const config = loadConfig({ file: configFile, env: {} });
    expect(config.connectors[ID]).toEqual({ baseUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
    expect(() => loadConfig({ file: configFile, env: { DATARUN_CONNECTORS__WATER_UTILITY__TIMEOUT_MS: 'soon' } })).toThrow('DATARUN_CONNECTORS__WATER_UTILITY__TIMEOUT_MS must be a decimal number');
  });

  it('does not start while its department has no seal key, naming it and the command that makes one', async () => {
    await expect(start()).rejects.toThrow(`department "${ID}" is not in the trust list ${keysDir}/trust.json: run \`datarun keys init\``);
  });

  it('is queried, sealed, policy-checked and audited once `datarun keys init` registered it', async () => {
    const lines: string[] = [];
    await runKeysInit({ dir: keysDir, departments: configuredDepartments(configFile), out: (l) => lines.push(l) });
    expect(lines).toContain(`registered department ${ID} (Water utility 供水)`);
    gateway = await start();
    server = await startHubServer({ gateway, logger: pino({ level: 'silent' }), port: 0, shutdownGraceMs: 1000 });
    const client = (consumer: string) => createDataRunClient({ hubUrl: server!.url, consumerId: consumer, keyFile: gateway!.keyStore.privateKeyPath(consumer) });
    const options = { purpose: 'UTILITY_CHECK', caseNumber: 'GS-2026-0001', operator: '窗口-李' };

    const query = 'query($id: ID!) { person(idNumber: $id) { idNumber waterAccount { accountNumber arrears seal { issuer token } } } }';
    const reply = await client('civil-affairs').query<{ person: { waterAccount: { accountNumber: string; arrears: number; seal: { issuer: string; token: string } } } }>(query, { id: PERSON }, options);
    expect(reply.errors).toBeUndefined();
    expect(reply.data?.person.waterAccount).toMatchObject({ accountNumber: 'W-0001', arrears: 12.5, seal: { issuer: ID } });
    const seal = await client('civil-affairs').verifySeal(reply.data!.person.waterAccount.seal.token);
    expect(seal).toMatchObject({ valid: true, issuer: ID, recordType: 'WaterAccount' });
    expect((await client('civil-affairs').verifyReply(reply)).valid).toBe(true);
    expect(upstreamCalls).toBe(1);

    // A consumer without a grant of the new fields is refused before the department is asked.
    const denied = await client('tax-bureau').query(query, { id: PERSON }, options);
    expect(denied.errors?.[0]?.extensions?.code).toBe('POLICY_DENIED');
    expect(upstreamCalls).toBe(1);

    const log = await client('auditor').query<{ accessLog: { edges: { node: { consumer: string; outcome: string; fields: { department: string; coordinates: string[] }[] } }[] } }>(
      '{ accessLog(first: 10) { edges { node { consumer outcome fields { department coordinates } } } } }',
      {},
      { purpose: 'AUDIT', caseNumber: 'SJ-2026-0001', operator: '审计-王' },
    );
    expect(log.errors).toBeUndefined();
    const served = log.data!.accessLog.edges.map((e) => e.node).find((n) => n.consumer === 'civil-affairs');
    expect(served?.fields).toEqual(expect.arrayContaining([expect.objectContaining({ department: ID, coordinates: expect.arrayContaining(['Person.waterAccount', 'WaterAccount.arrears']) })]));
    expect(log.data!.accessLog.edges.some((e) => e.node.consumer === 'tax-bureau' && e.node.outcome !== 'SERVED')).toBe(true);
  });
});
