/**
 * A measurement, not a check (kept out of the test suite): how long after an access record is
 * durable (its append acknowledged by Redis) it is found in the shared auditor index in
 * PostgreSQL. One hub in this process on a real redis-server (appendfsync always) and a real
 * PostgreSQL server; records are appended through the hub's log at a steady rate (several
 * concurrent appenders), and a poller watches the instance's progress row every 2 ms. Prints p50,
 * p99 and max of the lag at each rate, and the catch-up time after the database was down.
 *
 *   npm run measure:index
 */
import { Client } from 'pg';
import { generateSeed, startSandboxes } from '../../departments';
import type { AuditRecordInput } from '../../src/audit';
import { freshDatabase, startPostgresServer } from '../support/postgres';
import { startHubInProcess, startRedisServer } from '../support/redis';

const measure = it;
const PER_RUN = Number(process.env.DATARUN_MEASURE_RECORDS ?? 2000);

function record(i: number): AuditRecordInput {
  return {
    requestId: `lag-${i}`,
    correlationId: null,
    source: '127.0.0.1',
    consumer: 'real-estate-centre',
    operator: '窗口-王芳',
    purpose: 'PROPERTY_TRANSFER',
    caseNumber: `LAG-${i}`,
    operationName: 'T',
    operationHash: null,
    subjects: [{ kind: 'PERSON', id: `37170219800101${String(i % 10_000).padStart(4, '0')}` }],
    fields: { 'real-estate': ['Property.address'] },
    outcome: 'GRANTED',
    errorCodes: [],
    replyHash: null,
    receiptId: null,
  };
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

describe('measurements', () => {
  measure('prints how long a durable record takes to reach the shared index', async () => {
    const [redis, pg, sandboxes] = await Promise.all([startRedisServer({ appendonly: true }), startPostgresServer(), startSandboxes(generateSeed({ seed: 1, size: 50 }))]);
    const url = await freshDatabase(pg);
    const hub = await startHubInProcess(sandboxes, redis.url, { audit: { instanceId: 'lag', index: { url } } });
    const db = new Client({ connectionString: url });
    db.on('error', () => undefined);
    await db.connect();
    const lines: string[] = [];
    try {
      const log = hub.gateway.audit!;
      let next = 0;
      const progress = async (): Promise<number> => Number((await db.query<{ seq: string }>("SELECT seq FROM audit_index_progress WHERE instance = 'lag'")).rows[0]?.seq ?? 0);

      async function run(ratePerSecond: number, concurrency: number): Promise<string> {
        const acked = new Map<number, number>();
        const lags: number[] = [];
        let done = false;
        const poller = (async () => {
          let seen = await progress();
          while (!done || acked.size > 0) {
            const now = await progress();
            const at = performance.now();
            for (let seq = seen + 1; seq <= now; seq++) {
              const t = acked.get(seq);
              if (t !== undefined) {
                lags.push(at - t);
                acked.delete(seq);
              }
            }
            seen = Math.max(seen, now);
            await new Promise((r) => setTimeout(r, 2));
          }
        })();
        const interval = (1000 * concurrency) / ratePerSecond;
        const started = performance.now();
        await Promise.all(
          Array.from({ length: concurrency }, async (_, worker) => {
            for (let k = 0; ; k++) {
              if (next >= PER_RUN * (runs + 1)) return;
              const i = next++;
              const due = started + k * interval + (worker * interval) / concurrency;
              const wait = due - performance.now();
              if (wait > 0) await new Promise((r) => setTimeout(r, wait));
              const { seq } = await log.append(record(i));
              acked.set(seq, performance.now());
            }
          }),
        );
        done = true;
        await poller;
        runs++;
        return `${ratePerSecond} records/s (${concurrency} appenders, ${lags.length} records): index lag p50 ${quantile(lags, 0.5).toFixed(1)} ms, p99 ${quantile(lags, 0.99).toFixed(1)} ms, max ${Math.max(...lags).toFixed(1)} ms`;
      }
      let runs = 0;
      lines.push(await run(100, 4));
      lines.push(await run(500, 8));
      lines.push(await run(2000, 32));

      // Catch-up: the database away while records are appended, then back.
      await pg.halt();
      const before = Number(await log.health().seq);
      for (let i = 0; i < PER_RUN; i++) await log.append(record(1_000_000 + i));
      const target = log.health().seq;
      const back = performance.now();
      await pg.resume();
      const fresh = new Client({ connectionString: url });
      for (;;) {
        try {
          await fresh.connect();
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      while (Number((await fresh.query<{ seq: string }>("SELECT seq FROM audit_index_progress WHERE instance = 'lag'")).rows[0]?.seq ?? 0) < target) await new Promise((r) => setTimeout(r, 5));
      lines.push(`catch-up after the database was down: ${target - before} records indexed ${((performance.now() - back) / 1000).toFixed(2)} s after it was started again (writer retries every 1 s)`);
      await fresh.end();
    } finally {
      await db.end().catch(() => undefined);
      await hub.close();
      await Promise.allSettled([sandboxes.close(), redis.stop(), pg.stop()]);
      process.stdout.write(lines.join('\n') + '\n');
    }
  }, 600_000);
});
