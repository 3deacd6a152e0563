/** The dispatcher: backoff and jitter, Retry-After, attempts and age limits, concurrency, stop. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backoffDelay, createDispatcher, openFileStore, type DeliveryResult, type DeliveryStore, type DispatcherEvent, type PushEvent } from '../../../src/push';

let dir: string;
let store: DeliveryStore;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'datarun-push-'));
  store = openFileStore({ file: path.join(dir, 'q'), now: () => clock });
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

let clock = 0;
const ev = (id: string, subject = 'S:1'): PushEvent => ({ id, subject, type: 'A_B', occurredAt: '2026-01-01T00:00:00Z' });

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, less up to the jitter', () => {
    const opts = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, opts))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(3, { ...opts, jitter: 0.5 }, () => 0.999)).toBe(200);
    expect(backoffDelay(3, { ...opts, jitter: 0.5 }, () => 0)).toBe(400);
    expect(backoffDelay(1)).toBeLessThanOrEqual(1000);
  });
});

describe('the dispatcher', () => {
  beforeEach(() => (clock = 1000));

  it('retries on the backoff schedule, honours Retry-After, and makes an event dead after maxAttempts', async () => {
    const answers: DeliveryResult[] = [
      { outcome: 'retry', reason: 'busy' },
      { outcome: 'retry', reason: 'slow down', retryAfterMs: 5000 },
      { outcome: 'retry', reason: 'busy' },
    ];
    const events: DispatcherEvent[] = [];
    const d = createDispatcher({ store, deliver: async () => answers.shift()!, maxAttempts: 3, backoff: { initialMs: 100, maxMs: 10_000, jitter: 0 }, now: () => clock, onEvent: (e) => events.push(e) });
    await store.enqueue('a', ev('1'));
    await store.enqueue('a', ev('2'));
    expect(await d.runOnce()).toBe(1);
    clock += 99;
    expect(await d.runOnce()).toBe(0);
    clock += 1;
    expect(await d.runOnce()).toBe(1);
    clock += 4999;
    expect(await d.runOnce()).toBe(0);
    clock += 1;
    expect(await d.runOnce()).toBe(1);
    expect(events.map((e) => e.type)).toEqual(['retry', 'retry', 'dead']);
    expect(events[1]).toMatchObject({ delayMs: 5000 });
    expect(await store.listDead()).toEqual([expect.objectContaining({ event: ev('1'), reason: expect.stringContaining('after 3 attempts') })]);
    // The dead event holds event 2 of the same subject.
    clock += 1_000_000;
    expect(await d.runOnce()).toBe(0);
  });

  it('makes an event dead when it is too old, or at once on a permanent failure, reporting 410 as disable', async () => {
    const events: DispatcherEvent[] = [];
    const d = createDispatcher({
      store,
      deliver: async (_s, e) => (e.id === '1' ? { outcome: 'retry', reason: 'busy' } : { outcome: 'permanent', reason: 'gone', disable: true }),
      maxAgeMs: 500,
      now: () => clock,
      onEvent: (e) => events.push(e),
    });
    await store.enqueue('a', ev('1'));
    await store.enqueue('a', ev('2', 'S:2'));
    clock += 500;
    await d.runOnce();
    expect(events.map((e) => e.type).sort()).toEqual(['dead', 'dead', 'disable']);
    expect((await store.listDead()).map((x) => x.event.id).sort()).toEqual(['1', '2']);
  });

  it('counts a throwing or malformed deliver as a retry', async () => {
    const reasons: string[] = [];
    const answers = [() => Promise.reject(new Error('boom')), () => Promise.resolve(undefined as unknown as DeliveryResult)];
    const d = createDispatcher({ store, deliver: () => answers.shift()!(), backoff: { initialMs: 0, jitter: 0 }, now: () => clock, onEvent: (e) => e.type === 'retry' && reasons.push(e.reason) });
    await store.enqueue('a', ev('1'));
    await d.runOnce();
    await d.runOnce();
    expect(reasons).toEqual(['deliver failed: boom', 'deliver answered no outcome']);
  });

  it('runs at most `concurrency` deliveries at once, and stop() releases what does not finish in the grace time', async () => {
    let running = 0;
    let peak = 0;
    const gates: (() => void)[] = [];
    const aborted: string[] = [];
    const d = createDispatcher({
      store,
      concurrency: 2,
      pollMs: 5,
      now: () => clock,
      deliver: (_s, e, { signal }) =>
        new Promise((resolve) => {
          running++;
          peak = Math.max(peak, running);
          signal.addEventListener('abort', () => aborted.push(e.id));
          gates.push(() => {
            running--;
            resolve({ outcome: 'ok' });
          });
        }),
    });
    for (let i = 0; i < 5; i++) await store.enqueue('a', ev(`${i}`, `S:${i}`));
    d.start();
    const until = async (f: () => boolean) => {
      while (!f()) await new Promise((r) => setTimeout(r, 5));
    };
    await until(() => gates.length === 2);
    await new Promise((r) => setTimeout(r, 30));
    expect(d.inFlight).toBe(2);
    gates.shift()!();
    await until(() => gates.length === 2);
    await d.stop(20);
    expect(peak).toBe(2);
    expect(aborted).toHaveLength(2);
    // One delivered; the two released are due again for the next dispatcher, with no attempt counted.
    expect(await store.pending()).toBe(4);
    const again = await store.claim(10, clock);
    expect(again).toHaveLength(4);
    expect(again.every((c) => c.attempts === 0)).toBe(true);
    gates.forEach((g) => g());
  });

  it('refuses bad options naming them', () => {
    expect(() => createDispatcher({ store, deliver: undefined as never })).toThrow(/deliver/);
    expect(() => createDispatcher({ store, deliver: async () => ({ outcome: 'ok' }), concurrency: 0 })).toThrow(/concurrency/);
    expect(() => createDispatcher({ store, deliver: async () => ({ outcome: 'ok' }), backoff: { initialMs: -1 } })).toThrow(/backoff.initialMs/);
  });
});
