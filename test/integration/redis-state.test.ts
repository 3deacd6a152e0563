/**
 * The pieces of the shared state against a real Redis, each seen from two "instances" (two
 * shared states on one server): replay guard, rate limits, leases, the tiered cache's
 * invalidation, the audit stream's protection against a second writer, and its archiving.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AuditErrorCode, AuditInstanceInUseError, createRedisAuditSink, openAuditLog, startAuditArchiver, verifyAuditLog } from '../../src/audit';
import { StateErrorCode, createSharedState, type SharedState } from '../../src/state';
import { createRedisConnection } from '../../src/state/redis-connection';
import { eventually, startRedisCluster, startRedisSentinel, startRedisServer, type RedisServer } from '../support/redis';
import { HANG_DEADLINE_MS } from '../support/deadline';
import { createTestKeys, sampleRecord, tempDir } from '../fixtures/audit/support';

let redis: RedisServer;
const states: SharedState[] = [];
const limits = (consumer: string) => (consumer === 'limited' ? { requestsPerSecond: 0.01, burst: 2 } : undefined);

function instance(): SharedState {
  const state = createSharedState({ redis: { url: redis.url }, rateLimits: limits });
  states.push(state);
  return state;
}

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await Promise.allSettled(states.map((s) => s.close()));
  await redis?.stop();
});

describe('the shared state in Redis', () => {
  it('refuses a request id on one instance once another has seen it', async () => {
    const [a, b] = [instance(), instance()];
    await Promise.all([a.waitUntilReady(HANG_DEADLINE_MS), b.waitUntilReady(HANG_DEADLINE_MS)]);
    const expires = Date.now() + 60_000;
    expect(await a.replayGuard.checkAndRemember('iss\u0000jti-1', expires)).toBe(true);
    expect(await b.replayGuard.checkAndRemember('iss\u0000jti-1', expires)).toBe(false);
    expect(await a.replayGuard.checkAndRemember('iss\u0000jti-1', expires)).toBe(false);
    expect(await b.replayGuard.checkAndRemember('iss\u0000jti-2', expires)).toBe(true);
  });

  it('draws one consumer bucket from every instance', async () => {
    const [a, b] = [instance(), instance()];
    await Promise.all([a.waitUntilReady(HANG_DEADLINE_MS), b.waitUntilReady(HANG_DEADLINE_MS)]);
    expect(await a.rateLimiter.take('limited')).toEqual({ allowed: true });
    expect(await b.rateLimiter.take('limited')).toEqual({ allowed: true });
    const refused = await a.rateLimiter.take('limited');
    expect(refused.allowed).toBe(false);
    expect(!refused.allowed && refused.retryAfterMs).toBeGreaterThan(90_000);
    expect(await b.rateLimiter.take('unlimited')).toEqual({ allowed: true });
  });

  it('gives a lease to one instance at a time, and to another once released', async () => {
    const [a, b] = [instance(), instance()];
    await Promise.all([a.waitUntilReady(HANG_DEADLINE_MS), b.waitUntilReady(HANG_DEADLINE_MS)]);
    const la = a.lease('task', 5000);
    const lb = b.lease('task', 5000);
    expect(await la.tryHold()).toBe(true);
    expect(await lb.tryHold()).toBe(false);
    expect(await la.tryHold()).toBe(true);
    await la.release();
    expect(await lb.tryHold()).toBe(true);
    expect(lb.held).toBe(true);
    await lb.release();
  });

  it('drops a deleted record from the in-process tier of every instance', async () => {
    const [a, b] = [instance(), instance()];
    await Promise.all([a.waitUntilReady(HANG_DEADLINE_MS), b.waitUntilReady(HANG_DEADLINE_MS)]);
    await a.records.setMany([{ key: 'k1', value: 'v1', ttlMs: 60_000 }]);
    expect(await b.records.getMany(['k1'])).toEqual(['v1']); // now in b's in-process tier too
    // Subscriptions are asynchronous: wait until every instance listens before relying on the message.
    const probe = createRedisConnection({ url: redis.url });
    await probe.waitUntilReady(HANG_DEADLINE_MS);
    await eventually(async () => ((await probe.client.pubsub('NUMSUB', 'datarun:invalidate')) as [string, number])[1] >= 2, 'both instances to subscribe');
    await probe.close();
    await a.records.delete(['k1']);
    await eventually(async () => (await b.records.getMany(['k1']))[0] === undefined, 'b to drop k1');
  });

  /** The audit log's Redis sink of `instanceId` on the stream primitives of one shared state (one process). */
  function auditSinkOf(state: SharedState, instanceId: string) {
    return createRedisAuditSink({ streams: state.streams!, instanceId, leaseOf: (name, ttlMs) => state.lease(name, ttlMs) });
  }

  it('archives every head once, even when the archiver\'s cursor was not saved (Redis went away between the copy and the cursor)', async () => {
    const state = instance();
    await state.waitUntilReady(HANG_DEADLINE_MS);
    const { dir, remove } = tempDir('archive-');
    const keys = createTestKeys();
    const log = await openAuditLog({ dir: path.join(dir, 'unused'), instanceId: 'hub-z', subjectKeySecret: 'a test subject-key secret of 32+ bytes', sign: keys.sign, sink: auditSinkOf(state, 'hub-z') });
    // Redis goes away once right after the heads were copied, before the archiver saved how far it got.
    const streams = state.streams!;
    let cursorLost = false;
    const flaky = {
      ...streams,
      async hashSet(key: string, field: string, value: string) {
        if (field === 'archivedCheckpointId' && !cursorLost) {
          cursorLost = true;
          throw new Error('connection lost');
        }
        return streams.hashSet(key, field, value);
      },
    };
    const archiver = startAuditArchiver({ streams: flaky, dir, consumer: 'test', lease: state.lease('audit-archiver-test'), intervalMs: 60_000 });
    try {
      for (let i = 0; i < 3; i++) {
        await log.append(sampleRecord({ requestId: `a${i}` }));
        await log.checkpoint();
      }
      await archiver.runOnce().catch(() => undefined);
      expect(cursorLost).toBe(true);
      // The next round is delivered the same heads again.
      await log.append(sampleRecord({ requestId: 'b' }));
      await log.checkpoint();
      await archiver.runOnce();
      const lines = readFileSync(path.join(dir, 'hub-z', 'checkpoints.jsonl'), 'utf8').trim().split('\n');
      expect(new Set(lines).size).toBe(lines.length);
      expect(lines.length).toBeGreaterThanOrEqual(5);
      await log.close();
      await archiver.runOnce();
      const report = await verifyAuditLog({ dir: path.join(dir, 'hub-z'), verify: keys.verify });
      expect(report).toMatchObject({ ok: true, problem: null, records: 4 });
    } finally {
      await archiver.stop();
      await log.close().catch(() => undefined);
      remove();
    }
  });

  it('refuses a second process on one instance id: two writers would fork its chain', async () => {
    const [a, b] = [instance(), instance()];
    await Promise.all([a.waitUntilReady(HANG_DEADLINE_MS), b.waitUntilReady(HANG_DEADLINE_MS)]);
    const first = auditSinkOf(a, 'hub-x');
    const second = auditSinkOf(b, 'hub-x');
    await first.open({ chainId: 'hub-x/1', instanceId: 'hub-x' }, () => undefined);
    const refused = await second.open({ chainId: 'hub-x/2', instanceId: 'hub-x' }, () => undefined).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AuditInstanceInUseError);
    expect(refused).toMatchObject({ code: AuditErrorCode.AUDIT_INSTANCE_IN_USE, message: 'The audit stream of instance "hub-x" is held by another hub process; give each instance its own id.' });
    await first.close();
  });

  it('refuses a batch that does not continue the stream where it ends', async () => {
    const state = instance();
    await state.waitUntilReady(HANG_DEADLINE_MS);
    const sink = auditSinkOf(state, 'hub-y');
    await sink.open({ chainId: 'hub-y/1', instanceId: 'hub-y' }, () => undefined);
    const line = (seq: number) => ({ seq, time: new Date().toISOString(), hash: 'h'.repeat(64), line: JSON.stringify({ seq }) });
    await sink.append([line(1), line(2)]);
    const error = await sink.append([line(2)]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: AuditErrorCode.AUDIT_STREAM_CONFLICT, message: 'The audit stream of instance "hub-y" does not continue at record 2.' });
    expect((await sink.read([1, 2, 3])).map((r) => r.seq)).toEqual([1, 2]);
    await sink.close();
  });

  it('after Redis lost its data, orphans no record: appends check the chain id, not only the seq', async () => {
    const state = instance();
    await state.waitUntilReady(HANG_DEADLINE_MS);
    const line = (seq: number) => ({ seq, time: new Date().toISOString(), hash: 'h'.repeat(64), line: JSON.stringify({ seq }) });
    const flush = () => execFileSync('redis-cli', ['-p', String(redis.port), 'flushall'], { stdio: 'pipe' });
    const xlen = (instanceId: string) => Number(execFileSync('redis-cli', ['-p', String(redis.port), 'xlen', `datarun:audit:{${instanceId}}:records`], { encoding: 'utf8' }).trim());

    // A writer that had appended nothing yet: the seq alone (0, then 1) would let it fill a stream that names no chain.
    const fresh = auditSinkOf(state, 'hub-w');
    await fresh.open({ chainId: 'hub-w/1', instanceId: 'hub-w' }, () => undefined);
    flush();
    const refused = await fresh.append([line(1)]).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: AuditErrorCode.AUDIT_STREAM_CONFLICT });
    expect((refused as Error).message).toContain('no longer names this writer\'s chain at record 1');
    expect(xlen('hub-w')).toBe(0);
    await fresh.close();

    // A writer in the middle of its chain: refused too, and nothing is written.
    const busy = auditSinkOf(state, 'hub-v');
    await busy.open({ chainId: 'hub-v/1', instanceId: 'hub-v' }, () => undefined);
    await busy.append([line(1), line(2)]);
    flush();
    await expect(busy.append([line(3)])).rejects.toMatchObject({ code: AuditErrorCode.AUDIT_STREAM_CONFLICT });
    expect(xlen('hub-v')).toBe(0);
    await busy.close();

    // Reopened, the instance starts a chain of its own, which the stream names.
    const reopened = auditSinkOf(state, 'hub-v');
    const opened = await reopened.open({ chainId: 'hub-v/2', instanceId: 'hub-v' }, () => undefined);
    expect(opened).toMatchObject({ chainId: 'hub-v/2', head: null });
    await reopened.append([line(1)]);
    expect(xlen('hub-v')).toBe(1);
    await reopened.close();
  });

  it('notices that the replay ids were lost: every instance then reports the same later knownSince', async () => {
    const [a, b] = [instance(), instance()];
    await Promise.all([a.waitUntilReady(HANG_DEADLINE_MS), b.waitUntilReady(HANG_DEADLINE_MS)]);
    execFileSync('redis-cli', ['-p', String(redis.port), 'set', 'datarun:jti-epoch', '0'], { stdio: 'pipe' });
    expect(await a.replayGuard.knownSince()).toBe(0); // a Redis that has held the state all along
    const before = Date.now();
    execFileSync('redis-cli', ['-p', String(redis.port), 'flushall'], { stdio: 'pipe' });
    const since = await b.replayGuard.knownSince();
    expect(since).toBeGreaterThanOrEqual(before);
    expect(await a.replayGuard.knownSince()).toBe(since);
  });

  it('reaches the master through Sentinel', async () => {
    const sentinel = await startRedisSentinel(redis);
    const state = createSharedState({ redis: { sentinels: [sentinel.address], name: sentinel.name }, rateLimits: limits });
    try {
      expect(state.mode).toBe('sentinel');
      expect(state.description).toBe(`redis sentinel (master "${sentinel.name}" via ${sentinel.address})`);
      expect(await state.waitUntilReady(HANG_DEADLINE_MS)).toBe(true);
      const expires = Date.now() + 60_000;
      expect(await state.replayGuard.checkAndRemember('iss\u0000via-sentinel', expires)).toBe(true);
      // The same master as the standalone instances: they see the id too.
      const direct = instance();
      await direct.waitUntilReady(HANG_DEADLINE_MS);
      expect(await direct.replayGuard.checkAndRemember('iss\u0000via-sentinel', expires)).toBe(false);
    } finally {
      await state.close();
      await sentinel.stop();
    }
  });

  it('runs scripts and plain commands side by side on a three-master cluster, each routed by its own key', async () => {
    // ioredis's auto-pipelining routes a script call by its key count, not its key: on a cluster the
    // call then joins another node's pipeline and fails. The hub's audit streams use scripts.
    const cluster = await startRedisCluster();
    // A generous command timeout: 120 commands at once on a busy machine; what is tested is where each goes.
    const state = createSharedState({ redis: { cluster: cluster.nodes, commandTimeoutMs: 30_000 }, rateLimits: limits });
    try {
      expect(await state.waitUntilReady(HANG_DEADLINE_MS)).toBe(true);
      const streams = state.streams!;
      const expires = Date.now() + 60_000;
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 60; i++) {
        calls.push(streams.add(`{t${i}}:records`, { n: String(i) }, { hash: `{t${i}}:head`, field: 'seq', value: i }));
        calls.push(state.replayGuard.checkAndRemember(`iss\u0000cluster-${i}`, expires));
      }
      const outcomes = await Promise.allSettled(calls);
      expect(outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason?.cause?.message))).toEqual([]);
      expect(await streams.hashGet('{t59}:head', 'seq')).toBe('59');
    } finally {
      await state.close();
      await cluster.stop();
    }
  });

  it('falls back to a per-instance limit while Redis is down, and fails the replay guard closed', async () => {
    const server = await startRedisServer();
    const state = createSharedState({ redis: { url: server.url }, rateLimits: (c) => (c === 'x' ? { requestsPerSecond: 0.01, burst: 1 } : undefined) });
    try {
      await state.waitUntilReady(HANG_DEADLINE_MS);
      await server.kill();
      await eventually(() => !state.health().ok, 'the connection to drop');
      expect(await state.rateLimiter.take('x')).toEqual({ allowed: true });
      expect(await state.rateLimiter.take('x')).toMatchObject({ allowed: false });
      const error = await state.replayGuard.checkAndRemember('i\u0000j', Date.now() + 60_000).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: StateErrorCode.REPLAY_GUARD_UNAVAILABLE, message: 'The replay guard is unavailable: the request id cannot be checked.' });
      // The cache answers misses instead of failing.
      expect(await state.records.getMany(['anything'])).toEqual([undefined]);
    } finally {
      await state.close();
      await server.stop();
    }
  });
});
