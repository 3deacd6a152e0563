/**
 * A measurement, not a check (kept out of the test suite): the property-transfer query's
 * throughput on one hub process with in-memory state and with Redis, N concurrent signed requests
 * through src/client for a fixed count; and the p50 latency of a cache miss, a hit in Redis and a
 * hit in the in-process tier. The hub runs as its own process with its embedded sandboxes.
 *
 *   npm run measure:redis
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateSeed } from '../../departments';
import { PROPERTY_TRANSFER_QUERY, propertyTransferExample } from '../../src/cli/examples';
import { createDataRunClient } from '../../src/client';
import { createKeyStore } from '../../src/seal';
import { auditSubjectSecret } from '../../src/gateway/audit';
import { freshDatabase, startPostgresServer, type PostgresServer } from '../support/postgres';
import { startHubProcess, startRedisServer, type HubProcess } from '../support/redis';
import { WITH_DEPARTMENTS } from '../support/keys';

const measure = it;
const TOTAL = Number(process.env.DATARUN_MEASURE_REQUESTS ?? 2000);
const CONCURRENCY = Number(process.env.DATARUN_MEASURE_CONCURRENCY ?? 16);
const TRANSFER = { purpose: 'PROPERTY_TRANSFER', operator: '窗口-张敏' };
const UNIT_QUERY = 'query($u: ID!) { property(unitNumber: $u) { unitNumber address area owners { share } mortgages { status } seal { token } } }';
const data = generateSeed({ seed: 1, size: 200 });

function p50(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

let pg: PostgresServer | undefined;

async function withHub<T>(given: Record<string, string>, config: Record<string, unknown>, run: (hub: HubProcess, keysDir: string) => Promise<T>): Promise<T> {
  // On Redis (several instances' mode) the hub needs a shared index database: one of its own each run.
  const env = given.DATARUN_REDIS_URL ? { ...given, DATARUN_AUDIT_INDEX_URL: await freshDatabase((pg ??= await startPostgresServer())) } : given;
  const dir = mkdtempSync(path.join(tmpdir(), 'datarun-measure-'));
  const keysDir = path.join(dir, 'keys');
  await createKeyStore(keysDir, WITH_DEPARTMENTS);
  auditSubjectSecret(keysDir);
  const hub = await startHubProcess({ instanceId: 'measure', keysDir, auditDir: path.join(dir, 'audit'), env, config });
  try {
    return await run(hub, keysDir);
  } finally {
    await hub.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function throughput(hub: HubProcess, keysDir: string): Promise<number> {
  const { keyStore } = { keyStore: await createKeyStore(keysDir, WITH_DEPARTMENTS) };
  const client = createDataRunClient({ hubUrl: hub.url, consumerId: 'real-estate-centre', keyFile: keyStore.privateKeyPath('real-estate-centre')! });
  const variables = propertyTransferExample(data);
  const once = async (i: number) => {
    const reply = await client.query(PROPERTY_TRANSFER_QUERY, variables, { ...TRANSFER, caseNumber: `M-${i}` });
    if (reply.status !== 200) throw new Error(`HTTP ${reply.status}: ${JSON.stringify(reply.errors)}`);
  };
  for (let i = 0; i < 50; i++) await once(-i - 1); // warm-up: JIT, pools, cache
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < TOTAL) await once(next++);
  }));
  return TOTAL / ((performance.now() - started) / 1000);
}

async function latencies(hub: HubProcess, keysDir: string): Promise<{ miss: number; hit: number }> {
  const keyStore = await createKeyStore(keysDir, WITH_DEPARTMENTS);
  const client = createDataRunClient({ hubUrl: hub.url, consumerId: 'real-estate-centre', keyFile: keyStore.privateKeyPath('real-estate-centre')! });
  const units = data.properties.slice(0, Math.min(100, data.properties.length - 1)).map((p) => p.unitNumber);
  const warmUnit = data.properties[data.properties.length - 1]!.unitNumber;
  const time = async (unit: string, i: number) => {
    const started = performance.now();
    const reply = await client.query(UNIT_QUERY, { u: unit }, { ...TRANSFER, caseNumber: `L-${i}` });
    if (reply.status !== 200) throw new Error(`HTTP ${reply.status}`);
    return performance.now() - started;
  };
  for (let i = 0; i < 20; i++) await time(warmUnit, i); // warm-up on a unit not measured
  const miss: number[] = [];
  const hit: number[] = [];
  for (const [i, unit] of units.entries()) {
    miss.push(await time(unit, 1000 + i));
    hit.push(await time(unit, 2000 + i));
  }
  return { miss: p50(miss), hit: p50(hit) };
}

describe('measurements (DATARUN_MEASURE=1)', () => {
  measure('prints throughput and cache latencies for in-memory state and Redis', async () => {
    const redis = await startRedisServer({ appendonly: true });
    const lines: string[] = [];
    try {
      const memory = await withHub({}, {}, async (hub, keys) => ({ rps: await throughput(hub, keys) }));
      lines.push(`property-transfer, 1 instance, in-memory state: ${memory.rps.toFixed(0)} req/s (${TOTAL} requests, ${CONCURRENCY} concurrent)`);
      // Each run gets its own key prefix: a record another run left in Redis would turn a miss into a hit.
      const shared = await withHub({ DATARUN_REDIS_URL: redis.url }, { redis: { keyPrefix: 'run1:' } }, async (hub, keys) => ({ rps: await throughput(hub, keys) }));
      lines.push(`property-transfer, 1 instance, Redis state:     ${shared.rps.toFixed(0)} req/s (${TOTAL} requests, ${CONCURRENCY} concurrent)`);
      const memLat = await withHub({}, {}, latencies);
      lines.push(`unit query p50, in-memory: miss ${memLat.miss.toFixed(2)} ms, hit ${memLat.hit.toFixed(2)} ms`);
      const redisLat = await withHub({ DATARUN_REDIS_URL: redis.url }, { redis: { keyPrefix: 'run2:' }, cache: { localTtlMs: 0 } }, latencies);
      lines.push(`unit query p50, Redis (no in-process tier): miss ${redisLat.miss.toFixed(2)} ms, hit ${redisLat.hit.toFixed(2)} ms`);
      const tieredLat = await withHub({ DATARUN_REDIS_URL: redis.url }, { redis: { keyPrefix: 'run3:' } }, latencies);
      lines.push(`unit query p50, Redis + in-process tier: miss ${tieredLat.miss.toFixed(2)} ms, hit ${tieredLat.hit.toFixed(2)} ms`);
    } finally {
      await redis.stop();
      await pg?.stop();
      process.stdout.write(lines.join('\n') + '\n');
    }
  }, 600_000);
});
