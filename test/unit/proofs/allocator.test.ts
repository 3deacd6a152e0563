/**
 * The allocator and its stores, without servers: indices drawn at random and never twice, a new
 * list when one is full, statuses written at the draft's position, the file store durable across
 * a reopen and locked against a second process, bad input refused with its code. (The Redis
 * store, two instances on one server: test/integration/proofs-redis.test.ts.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import {
  createSharedStatusListStore,
  createStatusListAllocator,
  decodeStatusList,
  MIN_STATUS_LIST_SIZE,
  openFileStatusListStore,
  readStatus,
  STATUS,
  type StatusListStore,
} from '../../../src/proofs';
import { createMemoryBits } from '../../../src/state';

const dirs: string[] = [];
const tempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'datarun-status-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

const SIZE = MIN_STATUS_LIST_SIZE;
const memoryStore = (bits = 2): StatusListStore => createSharedStatusListStore({ bitmaps: createMemoryBits('status-lists'), size: SIZE, bits });

async function codeOf(promise: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe.each([
  ['shared bitmaps in memory', () => memoryStore()],
  ['a file store', () => openFileStatusListStore({ dir: tempDir(), size: SIZE, bits: 2 })],
])('the allocator on %s', (_name, makeStore) => {
  it('hands out distinct indices at random, not in order, and sets each status at its entry only', async () => {
    const store = makeStore();
    const allocator = createStatusListAllocator({ store });
    const entries = [];
    for (let i = 0; i < 64; i++) entries.push(await allocator.allocate());
    expect(entries.every((e) => e.list === 0)).toBe(true);
    const idx = entries.map((e) => e.idx);
    expect(new Set(idx).size).toBe(64);
    // Sequential or sorted hand-outs would leak the order of issue: 64 random draws are neither (chance ~1/64!).
    expect(idx).not.toEqual([...idx].sort((a, b) => a - b));
    expect(idx.filter((v, i) => i > 0 && v === idx[i - 1]! + 1).length).toBeLessThan(8);
    expect(Math.max(...idx) - Math.min(...idx)).toBeGreaterThan(SIZE / 4);

    const [revoked, suspended] = entries;
    await allocator.setStatus(revoked!.list, revoked!.idx, STATUS.INVALID);
    await allocator.setStatus(suspended!.list, suspended!.idx, STATUS.SUSPENDED);
    const snap = await allocator.snapshot(0);
    expect(snap.bits).toBe(2);
    expect(snap.bytes.length).toBe(SIZE / 4);
    const { bytes } = decodeStatusList(snap);
    expect(bytes).toEqual(snap.bytes);
    expect(readStatus(bytes, 2, revoked!.idx)).toBe(STATUS.INVALID);
    expect(readStatus(bytes, 2, suspended!.idx)).toBe(STATUS.SUSPENDED);
    // The draft's position: byte idx/4, bits 2*(idx mod 4) from the least significant.
    expect((bytes[revoked!.idx >> 2]! >> (2 * (revoked!.idx % 4))) & 3).toBe(1);
    let others = 0;
    for (let i = 0; i < SIZE; i++) if (i !== revoked!.idx && i !== suspended!.idx) others += readStatus(bytes, 2, i);
    expect(others).toBe(0);
    await allocator.setStatus(revoked!.list, revoked!.idx, STATUS.VALID);
    expect(readStatus((await allocator.snapshot(0)).bytes, 2, revoked!.idx)).toBe(STATUS.VALID);
    await store.close();
  });

  it('refuses a status for an index never handed out, out of range, or too wide, each with its code', async () => {
    const store = makeStore();
    const allocator = createStatusListAllocator({ store });
    const { list, idx } = await allocator.allocate();
    const unused = (idx + 1) % SIZE;
    expect(await codeOf(allocator.setStatus(list, unused, 1))).toBe('STATUS_INDEX_OUT_OF_RANGE');
    expect(await codeOf(allocator.setStatus(list, SIZE, 1))).toBe('STATUS_INDEX_OUT_OF_RANGE');
    expect(await codeOf(allocator.setStatus(list, -1, 1))).toBe('STATUS_INDEX_OUT_OF_RANGE');
    expect(await codeOf(allocator.setStatus(list, idx, 4))).toBe('STATUS_VALUE_INVALID');
    expect(await codeOf(allocator.setStatus(-1, idx, 1))).toBe('STATUS_LIST_OPTIONS_INVALID');
    expect(await codeOf(allocator.snapshot(1.5))).toBe('STATUS_LIST_OPTIONS_INVALID');
    await store.close();
    expect(await codeOf(allocator.allocate())).toBe('STATUS_LIST_STORE_UNAVAILABLE');
  });
});

describe('the allocator', () => {
  it('fills a list to its last index, every index once, then opens the next list', async () => {
    const allocator = createStatusListAllocator({ store: memoryStore(1) });
    const seen = new Uint8Array(SIZE);
    for (let i = 0; i < SIZE; i++) {
      const { list, idx } = await allocator.allocate();
      expect(list).toBe(0);
      seen[idx]! += 1;
    }
    expect(seen.every((n) => n === 1)).toBe(true);
    expect(await allocator.allocate()).toEqual({ list: 1, idx: expect.any(Number) });
  });

  it('never hands out an index twice, whatever the interleaving (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 4 }), async (count, instances) => {
        const bitmaps = createMemoryBits('status-lists');
        const allocators = Array.from({ length: instances }, () => createStatusListAllocator({ store: createSharedStatusListStore({ bitmaps, size: SIZE, bits: 1 }) }));
        const all = await Promise.all(Array.from({ length: count }, (_, i) => allocators[i % instances]!.allocate()));
        expect(new Set(all.map((e) => `${e.list}/${e.idx}`)).size).toBe(count);
      }),
      { numRuns: 30 },
    );
  });

  it('refuses lists smaller than 16 384 entries, sizes not a multiple of 8, and bad bits', async () => {
    const bitmaps = createMemoryBits('status-lists');
    expect(await codeOf(() => createSharedStatusListStore({ bitmaps, size: 1024 }))).toBe('STATUS_LIST_OPTIONS_INVALID');
    expect(await codeOf(() => createSharedStatusListStore({ bitmaps, size: SIZE + 4 }))).toBe('STATUS_LIST_OPTIONS_INVALID');
    expect(await codeOf(() => createSharedStatusListStore({ bitmaps, bits: 3 }))).toBe('STATUS_LIST_BITS_INVALID');
    expect(await codeOf(() => openFileStatusListStore({ dir: tempDir(), size: 100 }))).toBe('STATUS_LIST_OPTIONS_INVALID');
    expect(createSharedStatusListStore({ bitmaps })).toMatchObject({ size: 131_072, bits: 2 });
  });
});

describe('the file store', () => {
  it('keeps what it handed out and the statuses across a reopen, so no index is handed out again', async () => {
    const dir = tempDir();
    let store = openFileStatusListStore({ dir, size: SIZE, bits: 1 });
    let allocator = createStatusListAllocator({ store });
    const first = await allocator.allocate();
    await allocator.setStatus(first.list, first.idx, STATUS.INVALID);
    await store.close();
    expect(fs.readdirSync(dir).sort()).toEqual(['list-0.json']);

    store = openFileStatusListStore({ dir, size: SIZE, bits: 1 });
    allocator = createStatusListAllocator({ store });
    expect(await store.isClaimed(first.list, first.idx)).toBe(true);
    expect(await store.claim(first.list, first.idx)).toBe(false);
    expect(await store.claimedCount(0)).toBe(1);
    expect(readStatus((await allocator.snapshot(0)).bytes, 1, first.idx)).toBe(STATUS.INVALID);
    await store.close();
  });

  it('is held by one live process at a time, and refuses a damaged or differently configured list file', async () => {
    const dir = tempDir();
    const store = openFileStatusListStore({ dir, size: SIZE, bits: 1 });
    expect(await codeOf(() => openFileStatusListStore({ dir, size: SIZE, bits: 1 }))).toBe('STATUS_LIST_STORE_UNAVAILABLE');
    await createStatusListAllocator({ store }).allocate();
    await store.close();

    // Another configuration over the same files would misread them.
    const wider = openFileStatusListStore({ dir, size: SIZE, bits: 2 });
    expect(await codeOf(wider.claimedCount(0))).toBe('STATUS_LIST_STORE_CORRUPT');
    await wider.close();

    fs.writeFileSync(path.join(dir, 'list-0.json'), '{"format":"datarun-status-list/1","list":0,');
    const damaged = openFileStatusListStore({ dir, size: SIZE, bits: 1 });
    expect(await codeOf(createStatusListAllocator({ store: damaged }).allocate())).toBe('STATUS_LIST_STORE_CORRUPT');
    await damaged.close();

    // A lock left by a process that is gone is taken over.
    fs.writeFileSync(path.join(dir, '.lock'), '999999999');
    fs.rmSync(path.join(dir, 'list-0.json'));
    const again = openFileStatusListStore({ dir, size: SIZE, bits: 1 });
    expect(await createStatusListAllocator({ store: again }).allocate()).toEqual({ list: 0, idx: expect.any(Number) });
    await again.close();
  });
});
