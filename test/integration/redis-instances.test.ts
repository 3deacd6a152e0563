/**
 * Two hub processes share one Redis and behave as one hub: a request id used on one is refused on
 * the other, a record one of them fetched is served by the other without a second department
 * call (with the same seal), a consumer's rate limit is shared, a changed enterprise is evicted on
 * both within a second, and the records of both end up in the archived access log and verify.
 * The same suite runs against a standalone Redis and against a three-master Redis Cluster.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openAuditLogReader, verifyAuditLog } from '../../src/audit';
import { PROPERTY_TRANSFER_QUERY, propertyTransferExample } from '../../src/cli/examples';
import { createDataRunClient, type DataRunClient } from '../../src/client';
import { generateSeed, startSandboxes, type SandboxSet } from '../../departments';
import type { MarketRegulationSandbox } from '../../departments/market-regulation';
import { auditSubjectSecret, auditVerifier } from '../../src/gateway/audit';
import { createKeyStore, createRequestSigner, type KeyStore, type PrivateJwk } from '../../src/seal';
import { freshDatabase, startPostgresServer, type PostgresServer } from '../support/postgres';
import { eventually, startHubProcess, startRedisCluster, startRedisServer, type HubProcess } from '../support/redis';
import { connectorEnv } from '../support/hub';
import { WITH_DEPARTMENTS } from '../support/keys';

const TRANSFER = { purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-2026-000777', operator: '窗口-王芳' };
const STARTUP = { purpose: 'ENTERPRISE_STARTUP', caseNumber: 'QY-2026-000042', operator: '登记-赵磊' };
const SEALED_TRANSFER_QUERY = PROPERTY_TRANSFER_QUERY.replace(
  'transfers { date price from { ...Party } to { ...Party } }',
  'transfers { date price from { ...Party } to { ...Party } }\n    seal { token }',
);
const ENTERPRISE_QUERY = 'query($c: ID!) { enterprise(creditCode: $c) { creditCode name status } }';

/** What every instance is configured with, besides where Redis is. */
const CONFIG = {
  // Generous: these tests are about sharing, not about timeouts, and run on busy machines too.
  connectorTimeoutMs: 10_000,
  redis: { commandTimeoutMs: 5000, connectTimeoutMs: 10_000 },
  rateLimits: { consumers: { 'civil-affairs': { requestsPerSecond: 0.05, burst: 4 } } },
  cache: { invalidationPollMs: 250 },
  audit: { checkpointEveryMs: 500 },
};

/** One PostgreSQL server for the file; each pair of instances gets its own index database. */
let pg: PostgresServer;
beforeAll(async () => {
  pg = await startPostgresServer();
});
afterAll(async () => {
  await pg?.stop();
});

interface Setup {
  /** DATARUN_REDIS_* for the hubs. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

function describeSharedState(title: string, startRedis: () => Promise<Setup>): void {
  describe(title, () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'datarun-instances-'));
    const keysDir = path.join(dir, 'keys');
    const auditDir = path.join(dir, 'audit');
    const data = generateSeed({ seed: 1, size: 200 });
    let redis: Setup;
    let sandboxes: SandboxSet;
    let keyStore: KeyStore;
    let a: HubProcess;
    let b: HubProcess;
    /** Every reply with a receipt, by the instance that sent it: its record must be in that instance's archived chain. */
    const acknowledged: { instance: string; seq: number; requestId: string }[] = [];

    beforeAll(async () => {
      [redis, sandboxes, keyStore] = await Promise.all([startRedis(), startSandboxes(data), createKeyStore(keysDir, WITH_DEPARTMENTS)]);
      // Created once here: two processes creating it at the same moment would race.
      auditSubjectSecret(keysDir);
      const env = {
        ...redis.env,
        ...connectorEnv(sandboxes.endpoints),
        DATARUN_AUDIT_INDEX_URL: await freshDatabase(pg),
      };
      [a, b] = (await Promise.all(['hub-a', 'hub-b'].map((instanceId) => startHubProcess({ instanceId, keysDir, auditDir, env, config: CONFIG })))) as [HubProcess, HubProcess];
    });

    afterAll(async () => {
      if (process.env.DATARUN_TEST_HUB_OUTPUT) for (const hub of [a, b]) process.stderr.write(`--- ${hub?.instanceId}\n${hub?.output()}\n`);
      await Promise.allSettled([a?.stop(), b?.stop()]);
      await Promise.allSettled([sandboxes?.close(), redis?.stop()]);
      rmSync(dir, { recursive: true, force: true });
    });

    beforeEach(() => {
      for (const s of Object.values(sandboxes.sandboxes)) s.control.reset();
    });

    const clients = new Map<string, DataRunClient>();
    function client(hub: HubProcess, consumer: string): DataRunClient {
      const key = `${hub.instanceId}/${consumer}`;
      if (!clients.has(key)) clients.set(key, createDataRunClient({ hubUrl: hub.url, consumerId: consumer, keyFile: keyStore.privateKeyPath(consumer)! }));
      return clients.get(key)!;
    }

    async function acknowledge(hub: HubProcess, consumer: string, reply: Awaited<ReturnType<DataRunClient['query']>>): Promise<void> {
      const verified = await client(hub, consumer).verifyReply(reply);
      if (verified.valid) acknowledged.push({ instance: hub.instanceId, seq: verified.receipt.auditSeq!, requestId: verified.receipt.requestId });
    }

    function calls(department: 'real-estate' | 'market-regulation', operation: string): number {
      return sandboxes.sandboxes[department]!.control.calls.get(operation) ?? 0;
    }

    it('refuses on one instance a request id already used on the other', async () => {
      const signer = createRequestSigner({ consumerId: 'tax-bureau', privateJwk: JSON.parse(readFileSync(keyStore.privateKeyPath('tax-bureau')!, 'utf8')) as PrivateJwk });
      const body = JSON.stringify({ query: ENTERPRISE_QUERY, variables: { c: data.enterprises[0]!.creditCode } });
      const headers = { 'content-type': 'application/json', authorization: signer.authorization(body, STARTUP) };
      const first = await fetch(`${a.url}/graphql`, { method: 'POST', headers, body });
      expect(first.status).toBe(200);
      const replayed = await fetch(`${b.url}/graphql`, { method: 'POST', headers, body });
      expect(replayed.status).toBe(401);
      const { errors } = (await replayed.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
      expect(errors[0]!.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'REPLAYED' });
      expect(errors[0]!.message).toBe('request token has already been used');
    });

    it('serves on one instance a record the other fetched, without a second department call, under the same seal', async () => {
      const variables = propertyTransferExample(data);
      const first = await client(a, 'real-estate-centre').query<any>(SEALED_TRANSFER_QUERY, variables, TRANSFER);
      expect(first.status).toBe(200);
      expect(first.errors).toBeUndefined();
      await acknowledge(a, 'real-estate-centre', first);
      expect(calls('real-estate', 'sql')).toBeGreaterThanOrEqual(1);
      const sqlAfterFirst = calls('real-estate', 'sql');
      const enterpriseCalls = calls('market-regulation', 'enterprises.batch');

      const second = await client(b, 'real-estate-centre').query<any>(SEALED_TRANSFER_QUERY, variables, { ...TRANSFER, caseNumber: 'BDC-2026-000778' });
      expect(second.status).toBe(200);
      expect(second.data).toEqual(first.data && { ...first.data, property: { ...first.data.property, seal: second.data.property.seal } });
      await acknowledge(b, 'real-estate-centre', second);
      // The unit came from the shared cache: no second statement, no second enterprise lookup.
      expect(calls('real-estate', 'sql')).toBe(sqlAfterFirst);
      expect(calls('market-regulation', 'enterprises.batch')).toBe(enterpriseCalls);
      // Sealed once, by whichever instance fetched it: the signed part of both seals is the same.
      expect(second.data.property.seal.token.split('~')[0]).toBe(first.data.property.seal.token.split('~')[0]);
    });

    it('shares one rate limit per consumer between the instances, refusing the rest with RATE_LIMITED and Retry-After', async () => {
      const signer = createRequestSigner({ consumerId: 'civil-affairs', privateJwk: JSON.parse(readFileSync(keyStore.privateKeyPath('civil-affairs')!, 'utf8')) as PrivateJwk });
      const statuses: number[] = [];
      let refused: { status: number; retryAfter: string | null; errors: { message: string; extensions: Record<string, unknown> }[] } | undefined;
      for (let i = 0; i < 6; i++) {
        const hub = i % 2 === 0 ? a : b;
        const body = JSON.stringify({ query: '{ myGrants(purpose: "LIVING_ALLOWANCE") { consumer } }' });
        const res = await fetch(`${hub.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: signer.authorization(body, { purpose: 'LIVING_ALLOWANCE', caseNumber: `MZ-${i}`, operator: '低保专干-李华' }) },
          body,
        });
        statuses.push(res.status);
        const json = (await res.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
        if (res.status === 429) refused ??= { status: res.status, retryAfter: res.headers.get('retry-after'), errors: json.errors };
      }
      // A burst of 4 for the consumer, whichever instance each request reached.
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
      expect(Number(refused!.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(refused!.errors[0]!.extensions).toMatchObject({ code: 'RATE_LIMITED' });
      expect(refused!.errors[0]!.message).toBe(`Too many requests from this consumer: retry after ${refused!.retryAfter} s.`);
    });

    it('evicts an enterprise whose status changed from the cache of every instance, long before its cache lifetime', async () => {
      const enterprise = data.enterprises.find((e) => e.status === 'ACTIVE' && e.creditCode !== data.enterprises[0]!.creditCode)!;
      for (const hub of [a, b]) {
        const reply = await client(hub, 'tax-bureau').query<any>(ENTERPRISE_QUERY, { c: enterprise.creditCode }, STARTUP);
        expect(reply.errors).toBeUndefined();
        expect(reply.data.enterprise.status).toBe('ACTIVE');
        await acknowledge(hub, 'tax-bureau', reply);
      }
      // Fetched once, then served from the cache to the other instance.
      expect(calls('market-regulation', 'enterprises.batch')).toBe(1);

      const changedAt = Date.now();
      (sandboxes.sandboxes['market-regulation'] as MarketRegulationSandbox).emitStatusChange(enterprise.creditCode, 'REVOKED');
      const seen: Record<string, number> = {};
      await eventually(async () => {
        for (const hub of [a, b]) {
          if (seen[hub.instanceId]) continue;
          const reply = await client(hub, 'tax-bureau').query<any>(ENTERPRISE_QUERY, { c: enterprise.creditCode }, STARTUP);
          await acknowledge(hub, 'tax-bureau', reply);
          if (reply.data.enterprise.status === 'REVOKED') seen[hub.instanceId] = Date.now() - changedAt;
        }
        return Object.keys(seen).length === 2;
      }, 'both instances to serve the new status');
      // The change feed evicted it (polled every 250 ms): the cache would have kept it 600 s. A bound that
      // tells eviction from expiry on any machine, not a measure of speed.
      expect(Math.max(...Object.values(seen))).toBeLessThan(60_000);
    });

    it('answers the auditor from either instance with the records of both (the shared index in PostgreSQL)', async () => {
      const audit = { purpose: 'AUDIT', caseNumber: 'SJ-2026-0101', operator: '审计员-赵强' };
      const wanted = acknowledged.map((r) => `${r.instance}/${r.seq}`);
      expect(new Set(acknowledged.map((r) => r.instance))).toEqual(new Set(['hub-a', 'hub-b']));
      for (const hub of [a, b]) {
        await eventually(async () => {
          const reply = await client(hub, 'auditor').query<any>('{ accessLog(first: 500) { edges { node { instance seq requestId } } } }', {}, audit);
          if (reply.errors) return false;
          const found = new Map<string, string>(reply.data.accessLog.edges.map((e: any) => [`${e.node.instance}/${e.node.seq}`, e.node.requestId]));
          return acknowledged.every((r, i) => found.get(wanted[i]!) === r.requestId);
        }, `every acknowledged record in the shared index, asked at ${hub.instanceId}`, 60_000);
      }
    });

    it('keeps the records of both instances in the archived access log, each chain verifying', async () => {
      expect(new Set(acknowledged.map((r) => r.instance))).toEqual(new Set(['hub-a', 'hub-b']));
      const secret = auditSubjectSecret(keysDir);
      for (const instance of ['hub-a', 'hub-b']) {
        const expected = acknowledged.filter((r) => r.instance === instance);
        const logDir = path.join(auditDir, instance);
        // The archiver (whichever instance holds its lease) copies the Redis streams to segment files.
        await eventually(async () => {
          const reader = await openAuditLogReader({ dir: logDir, subjectKeySecret: secret });
          const logged = new Map<number, string>();
          for await (const record of reader.records({})) logged.set(record.seq, record.requestId);
          await reader.close();
          return expected.every((r) => logged.get(r.seq) === r.requestId);
        }, `the records of ${instance} in ${logDir}`, 15_000);
        // Each instance signs checkpoints of its own chain; they are archived after the records they attest.
        let report = await verifyAuditLog({ dir: logDir, verify: auditVerifier({ keyStore }) });
        await eventually(async () => (report = await verifyAuditLog({ dir: logDir, verify: auditVerifier({ keyStore }) })).checkpoints > 0, `a checkpoint of ${instance}`, 15_000);
        expect(report).toMatchObject({ ok: true, problem: null });
        expect(report.lastSeq).toBeGreaterThanOrEqual(Math.max(...expected.map((r) => r.seq)));
      }
    });
  });
}

describeSharedState('two hub instances on one standalone Redis', async () => {
  const server = await startRedisServer({ appendonly: true });
  return { env: { DATARUN_REDIS_URL: server.url }, stop: () => server.stop() };
});

describeSharedState('two hub instances on a three-master Redis Cluster', async () => {
  const cluster = await startRedisCluster();
  return { env: { DATARUN_REDIS_CLUSTER: cluster.nodes.join(',') }, stop: () => cluster.stop() };
});
