/**
 * Status lists in Redis (src/state's shared bitmaps): the bitmap primitives against a real
 * redis-server, byte for byte what the in-memory ones give; two hub instances (two shared
 * states, two connections, one server) allocating at once never hand out the same index, and
 * one's status changes are in the other's snapshot, at the draft's position.
 */
import fc from 'fast-check';
import { createSharedStatusListStore, createStatusListAllocator, MIN_STATUS_LIST_SIZE, readStatus, STATUS, type StatusListAllocator } from '../../src/proofs';
import { createMemoryBits, createSharedState, type SharedState } from '../../src/state';
import { HANG_DEADLINE_MS } from '../support/deadline';
import { startRedisServer, type RedisServer } from '../support/redis';

let redis: RedisServer;
const states: SharedState[] = [];
const SIZE = MIN_STATUS_LIST_SIZE;

async function state(): Promise<SharedState> {
  // A busy machine may hold a command past the default 500 ms: these tests are about who gets which entry, not how fast.
  const s = createSharedState({ redis: { url: redis.url, commandTimeoutMs: 5000 }, rateLimits: () => undefined });
  states.push(s);
  expect(await s.waitUntilReady(HANG_DEADLINE_MS)).toBe(true);
  return s;
}

async function instance(namespace: string, bits = 1): Promise<StatusListAllocator> {
  return createStatusListAllocator({ store: createSharedStatusListStore({ bitmaps: (await state()).bits(namespace), size: SIZE, bits }) });
}

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await Promise.allSettled(states.map((s) => s.close()));
  await redis?.stop();
});

describe('shared bitmaps in Redis', () => {
  it('do what the in-memory bitmaps do, byte for byte (property over random operations)', async () => {
    const shared = await state();
    let run = 0;
    const op = fc.oneof(
      fc.record({ kind: fc.constant('claim' as const), offset: fc.integer({ min: 0, max: 300 }) }),
      fc.record({ kind: fc.constant('field' as const), width: fc.constantFrom(1, 2, 4, 8), index: fc.integer({ min: 0, max: 40 }), value: fc.nat(255) }),
      fc.record({ kind: fc.constant('clear' as const), fromByte: fc.integer({ min: 0, max: 45 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops) => {
        const ns = `p${run++}`;
        const [remote, local] = [shared.bits(ns), createMemoryBits(ns)];
        for (const o of ops) {
          if (o.kind === 'claim') expect(await remote.claim('m', o.offset)).toBe(await local.claim('m', o.offset));
          else if (o.kind === 'field') {
            const value = o.value % 2 ** o.width;
            await remote.setField('m', o.width, o.index, value);
            await local.setField('m', o.width, o.index, value);
          } else expect(await remote.firstClear('m', o.fromByte)).toBe(await local.firstClear('m', o.fromByte));
        }
        expect([...(await remote.read('m'))]).toEqual([...(await local.read('m'))]);
        expect(await remote.count('m')).toBe(await local.count('m'));
      }),
      { numRuns: 40 },
    );
  });

  it('let exactly one of two instances claim a bit', async () => {
    const [a, b] = [(await state()).bits('race'), (await state()).bits('race')];
    for (let offset = 0; offset < 200; offset++) {
      const won = await Promise.all([a.claim('m', offset), b.claim('m', offset)]);
      expect(won.filter(Boolean)).toHaveLength(1);
    }
    expect(await a.count('m')).toBe(200);
  });
});

describe('status lists in Redis, two instances', () => {
  it('never hand out one index twice, however the allocations interleave', async () => {
    const [a, b] = [await instance('lists-a'), await instance('lists-a')];
    const all = await Promise.all(Array.from({ length: 400 }, (_, i) => (i % 2 ? a : b).allocate()));
    expect(all.every((e) => e.list === 0)).toBe(true);
    expect(new Set(all.map((e) => e.idx)).size).toBe(400);
  });

  it('fill a list together, every index once, then both move to the next list', async () => {
    const [a, b] = [await instance('lists-b'), await instance('lists-b')];
    const seen = new Uint8Array(SIZE);
    // In rounds of parallel calls: both instances race for the last free indices of the list.
    for (let done = 0; done < SIZE; done += 256) {
      const batch = await Promise.all(Array.from({ length: Math.min(256, SIZE - done) }, (_, i) => (i % 2 ? a : b).allocate()));
      for (const { list, idx } of batch) {
        expect(list).toBe(0);
        seen[idx]! += 1;
      }
    }
    expect(seen.every((n) => n === 1)).toBe(true);
    const next = await Promise.all([a.allocate(), b.allocate()]);
    expect(next.map((e) => e.list)).toEqual([1, 1]);
    expect(next[0]!.idx).not.toBe(next[1]!.idx);
  });

  it('show one instance’s status changes in the other’s snapshot, at the draft’s position', async () => {
    const [a, b] = [await instance('lists-c', 2), await instance('lists-c', 2)];
    const revoked = await a.allocate();
    const suspended = await b.allocate();
    await a.setStatus(suspended.list, suspended.idx, STATUS.SUSPENDED);
    await b.setStatus(revoked.list, revoked.idx, STATUS.INVALID);
    const snap = await a.snapshot(0);
    expect(readStatus(snap.bytes, 2, revoked.idx)).toBe(STATUS.INVALID);
    expect(readStatus(snap.bytes, 2, suspended.idx)).toBe(STATUS.SUSPENDED);
    expect((snap.bytes[revoked.idx >> 2]! >> (2 * (revoked.idx % 4))) & 3).toBe(1);
    expect(snap.bytes.reduce((n, byte) => n + (byte ? 1 : 0), 0)).toBe(revoked.idx >> 2 === suspended.idx >> 2 ? 1 : 2);
    expect(await b.snapshot(0)).toEqual(snap);
    await expect(b.setStatus(0, (revoked.idx + 1) % SIZE === suspended.idx ? (revoked.idx + 2) % SIZE : (revoked.idx + 1) % SIZE, 1)).rejects.toMatchObject({ code: 'STATUS_INDEX_OUT_OF_RANGE' });
  });

  it('answer a coded error, not a hang, when Redis is gone', async () => {
    const s = createSharedState({ redis: { url: 'redis://127.0.0.1:1' }, rateLimits: () => undefined });
    states.push(s);
    const allocator = createStatusListAllocator({ store: createSharedStatusListStore({ bitmaps: s.bits('gone'), size: SIZE }) });
    await expect(allocator.allocate()).rejects.toMatchObject({ code: 'REDIS_UNAVAILABLE' });
  });
});
