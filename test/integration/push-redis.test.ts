/**
 * The Redis delivery store on a real redis-server: the shared property (random events, failures,
 * replays and skips), two dispatchers on one Redis delivering each event once per subscriber,
 * and an instance killed mid-delivery (a child process, SIGKILL) whose deliveries another
 * instance takes over with the same event ids.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import fc from 'fast-check';
import { createDispatcher, createRedisStore, type Dispatcher, type DeliveryStore, type PushEvent } from '../../src/push';
import { createSharedState, type SharedState } from '../../src/state';
import { HANG_DEADLINE_MS } from '../support/deadline';
import { eventually, startRedisCluster, startRedisServer, type RedisServer } from '../support/redis';
import { runScenario, scenarioArb } from '../unit/push/store-model';

const ROOT = path.resolve(__dirname, '../..');
let redis: RedisServer;
const states: SharedState[] = [];
const stores: DeliveryStore[] = [];
const dispatchers: Dispatcher[] = [];

async function instance(): Promise<SharedState> {
  const state = createSharedState({ redis: { url: redis.url, commandTimeoutMs: 5000 }, rateLimits: () => undefined });
  states.push(state);
  expect(await state.waitUntilReady(HANG_DEADLINE_MS)).toBe(true);
  return state;
}

function store(state: SharedState, name: string, takeoverIdleMs = 60_000): DeliveryStore {
  const s = createRedisStore({ state, name, takeoverIdleMs });
  stores.push(s);
  return s;
}

const ev = (id: string, subject: string): PushEvent => ({ id, subject, type: 'LICENCE_ISSUED', occurredAt: '2026-01-01T00:00:00Z' });

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await Promise.allSettled(dispatchers.map((d) => d.stop(100)));
  await Promise.allSettled(stores.map((s) => s.close()));
  await Promise.allSettled(states.map((s) => s.close()));
  await redis?.stop();
});

/** Checks that per (subscriber, subject) the first deliveries of each event come in enqueue order. */
function expectLaneOrder(log: { sub: string; id: string; subject: string }[], order: Map<string, string[]>): void {
  const firsts = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const d of log) {
    if (seen.has(`${d.sub}/${d.id}`)) continue;
    seen.add(`${d.sub}/${d.id}`);
    const key = `${d.sub}|${d.subject}`;
    firsts.set(key, [...(firsts.get(key) ?? []), d.id]);
  }
  expect(Object.fromEntries(firsts)).toEqual(Object.fromEntries(order));
}

describe('the Redis delivery store', () => {
  it('refuses the memory-mode shared state', () => {
    const memory = createSharedState({ rateLimits: () => undefined });
    expect(() => createRedisStore({ state: memory })).toThrow(expect.objectContaining({ code: 'PUSH_INPUT_INVALID' }));
    return memory.close();
  });

  it('queues several events in order with enqueueAll, idempotent by event id, checking every item first', async () => {
    const s = store(await instance(), 'all');
    expect(await s.enqueueAll([{ subscriberId: 'a', event: ev('1', 'X') }, { subscriberId: 'a', event: ev('2', 'X') }, { subscriberId: 'a', event: ev('1', 'X') }])).toEqual([true, true, false]);
    await expect(s.enqueueAll([{ subscriberId: 'a', event: ev('3', 'X') }, { subscriberId: 'a', event: ev('4', '') }])).rejects.toThrow(/subject/);
    expect(await s.pending()).toBe(2);
    const [head] = await s.claim(10, Date.now());
    expect(head?.event.id).toBe('1');
  });

  it('keeps order per subject, delivers everything not dead, and holds lanes behind dead events (property)', async () => {
    const state = await instance();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const s = createRedisStore({ state, name: `prop${n++}` });
        try {
          await runScenario(s, scenario);
        } finally {
          await s.close();
        }
      }),
      { numRuns: 30 },
    );
  });

  it('two dispatchers on one Redis deliver each event once per subscriber when nothing fails', async () => {
    const [a, b] = [await instance(), await instance()];
    const [qa, qb] = [store(a, 'pair'), store(b, 'pair')];
    const log: { who: string; sub: string; id: string; subject: string }[] = [];
    const order = new Map<string, string[]>();
    for (let i = 0; i < 30; i++) {
      const event = ev(`e${i}`, `ENTERPRISE:${i % 4}`);
      for (const sub of ['s1', 's2']) {
        // Both instances learn of the event: the queue keeps it once.
        const added = [await qa.enqueue(sub, event), await qb.enqueue(sub, event)];
        expect(added).toEqual([true, false]);
        const key = `${sub}|${event.subject}`;
        order.set(key, [...(order.get(key) ?? []), event.id]);
      }
    }
    for (const [who, q] of [['a', qa], ['b', qb]] as const) {
      const d = createDispatcher({
        store: q,
        concurrency: 3,
        pollMs: 20,
        async deliver(sub, event) {
          log.push({ who, sub, id: event.id, subject: event.subject });
          await new Promise((r) => setTimeout(r, 2));
          return { outcome: 'ok' };
        },
      });
      dispatchers.push(d);
      d.start();
    }
    await eventually(async () => (await qa.pending()) === 0 && log.length >= 60, 'all 60 deliveries');
    expect(log).toHaveLength(60);
    expect(new Set(log.map((d) => `${d.sub}/${d.id}`)).size).toBe(60);
    expectLaneOrder(log, order);
  });

  it('takes over the deliveries of an instance killed mid-delivery, with the same event ids', async () => {
    const state = await instance();
    const q = store(state, 'crash', 1000);
    const order = new Map<string, string[]>();
    for (let i = 0; i < 9; i++) {
      const event = ev(`c${i}`, `ENTERPRISE:${i % 3}`);
      await q.enqueue('s1', event);
      order.set(`s1|${event.subject}`, [...(order.get(`s1|${event.subject}`) ?? []), event.id]);
    }
    // A second instance in its own process: it claims the three lane heads, starts delivering, and never finishes.
    const script = `
      const { createSharedState } = require(${JSON.stringify(path.join(ROOT, 'src/state/index.ts'))});
      const { createRedisStore, createDispatcher } = require(${JSON.stringify(path.join(ROOT, 'src/push/index.ts'))});
      const state = createSharedState({ redis: { url: process.env.REDIS_URL, commandTimeoutMs: 5000 }, rateLimits: () => undefined });
      const store = createRedisStore({ state, name: 'crash', takeoverIdleMs: 1000 });
      const held = [];
      createDispatcher({ store, pollMs: 20, deliver: (sub, event) => { held.push(event.id); console.log('HOLDING ' + held.join(',')); return new Promise(() => {}); } }).start();
    `;
    const child = spawn(process.execPath, ['-r', path.join(ROOT, 'test/fixtures/audit/register-ts.js'), '-e', script], { cwd: ROOT, env: { ...process.env, REDIS_URL: redis.url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await eventually(() => /HOLDING c\d,c\d,c\d\n/.test(out), `the child holding three deliveries (its output: ${out})`);
    } finally {
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    }
    const heldByChild = /HOLDING (c\d,c\d,c\d)\n/.exec(out)![1]!.split(',');
    expect(heldByChild.sort()).toEqual(['c0', 'c1', 'c2']);

    const log: { sub: string; id: string; subject: string }[] = [];
    const d = createDispatcher({
      store: q,
      pollMs: 50,
      async deliver(sub, event) {
        log.push({ sub, id: event.id, subject: event.subject });
        return { outcome: 'ok' };
      },
    });
    dispatchers.push(d);
    d.start();
    await eventually(async () => (await q.pending()) === 0, 'the killed instance’s deliveries taken over and the rest delivered');
    expect(new Set(log.map((l) => l.id))).toEqual(new Set([...order.values()].flat()));
    expectLaneOrder(log, order);
  });
});

describe('the Redis delivery store on a Redis Cluster', () => {
  it('keeps every key of a queue on one node: retries, promotions and completions run there', async () => {
    const cluster = await startRedisCluster();
    const state = createSharedState({ redis: { cluster: cluster.nodes, commandTimeoutMs: 5000 }, rateLimits: () => undefined });
    try {
      expect(await state.waitUntilReady(HANG_DEADLINE_MS)).toBe(true);
      const q = createRedisStore({ state, name: 'clustered' });
      for (let i = 0; i < 6; i++) await q.enqueue('s1', ev(`k${i}`, `ENTERPRISE:${i % 2}`));
      let n = 0;
      const got: string[] = [];
      const d = createDispatcher({
        store: q,
        backoff: { initialMs: 0, jitter: 0 },
        deliver: async (_s, e) => (n++ % 2 === 0 ? { outcome: 'retry', reason: 'scripted' } : (got.push(e.id), { outcome: 'ok' })),
      });
      await eventually(async () => (await d.runOnce(), (await q.pending()) === 0), 'the clustered queue drained');
      expect(got.filter((id) => ['k0', 'k2', 'k4'].includes(id))).toEqual(['k0', 'k2', 'k4']);
      expect(got.filter((id) => ['k1', 'k3', 'k5'].includes(id))).toEqual(['k1', 'k3', 'k5']);
      await q.close();
    } finally {
      await state.close();
      await cluster.stop();
    }
  });
});
