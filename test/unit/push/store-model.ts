/**
 * The guarantees of a delivery store, as a fast-check property shared by the file store's unit
 * test and the Redis store's integration test: random events over a few subjects (some enqueued
 * twice), random answers of the receiver (ok, retry, permanent), random replays and skips of dead
 * events. Checked on every attempt: it is the oldest unfinished event of its lane (so order per
 * subject holds, and a dead event holds the later ones), and no lane has two attempts at once.
 * Checked at the end: every event was delivered, or was dead and skipped.
 */
import fc from 'fast-check';
import { createDispatcher, type DeliveryResult, type DeliveryStore, type PushEvent } from '../../../src/push';

type Op = { kind: 'enqueue'; sub: number; subject: number; again: boolean } | { kind: 'run' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('enqueue' as const), sub: fc.integer({ min: 0, max: 1 }), subject: fc.integer({ min: 0, max: 2 }), again: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('run' as const) }) },
);
const outcomeArb = fc.constantFrom<DeliveryResult['outcome']>('ok', 'ok', 'retry', 'permanent');

/** The scenario generator. */
export const scenarioArb = fc.record({
  ops: fc.array(opArb, { minLength: 1, maxLength: 30 }),
  outcomes: fc.array(outcomeArb, { maxLength: 40 }),
  resolutions: fc.array(fc.boolean(), { maxLength: 20 }),
  concurrency: fc.integer({ min: 1, max: 4 }),
});

/** One generated scenario. */
export type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

class OrderError extends Error {}

/** Runs one scenario against a fresh store; throws on a broken guarantee. */
export async function runScenario(store: DeliveryStore, scenario: Scenario): Promise<void> {
  // A deliver that finds the order broken must fail the test, not count as a retry.
  let broken: Error | undefined;
  const fail = (message: string): never => {
    broken ??= new OrderError(message);
    throw broken;
  };
  let clock = 1_000_000;
  const lanes = new Map<string, string[]>();
  const busy = new Set<string>();
  const delivered = new Set<string>();
  const skipped = new Set<string>();
  const everDead = new Set<string>();
  const deadNow = new Set<string>();
  const all: { sub: string; id: string }[] = [];
  let attempt = 0;
  let resolution = 0;
  const laneKey = (sub: string, subject: string): string => `${sub}|${subject}`;

  const dispatcher = createDispatcher({
    store,
    concurrency: scenario.concurrency,
    maxAttempts: 3,
    backoff: { initialMs: 0, maxMs: 0, jitter: 0 },
    now: () => clock,
    onEvent: (e) => {
      if (e.type === 'dead') deadNow.add(`${e.subscriberId}/${e.eventId}`);
    },
    async deliver(sub, event: PushEvent) {
      const key = laneKey(sub, event.subject);
      const lane = lanes.get(key) ?? [];
      if (lane[0] !== event.id) fail(`${sub}/${event.id} attempted while the head of its lane is ${lane[0]}`);
      if (deadNow.has(`${sub}/${event.id}`)) fail(`${sub}/${event.id} attempted while dead`);
      if (busy.has(key)) fail(`two attempts at once in lane ${key}`);
      busy.add(key);
      await new Promise((r) => setImmediate(r));
      busy.delete(key);
      const outcome = scenario.outcomes[attempt++] ?? 'ok';
      if (outcome === 'ok') {
        lane.shift();
        delivered.add(`${sub}/${event.id}`);
        return { outcome };
      }
      return { outcome, reason: `scripted ${outcome}` };
    },
  });

  async function drain(): Promise<void> {
    for (let i = 0; i < 500; i++) {
      clock += 1;
      const n = await dispatcher.runOnce();
      if (broken) throw broken;
      if (n === 0) return;
    }
    throw new Error('the queue did not drain');
  }

  let seq = 0;
  for (const op of scenario.ops) {
    if (op.kind === 'run') {
      await dispatcher.runOnce();
      if (broken) throw broken;
      continue;
    }
    const sub = `sub-${op.sub}`;
    const subject = `ENTERPRISE:${op.subject}`;
    const event: PushEvent = { id: `evt-${seq++}`, subject, type: 'ENTERPRISE_CHANGED', occurredAt: new Date(clock).toISOString() };
    expect(await store.enqueue(sub, event)).toBe(true);
    if (op.again) expect(await store.enqueue(sub, event)).toBe(false);
    const key = laneKey(sub, subject);
    lanes.set(key, [...(lanes.get(key) ?? []), event.id]);
    all.push({ sub, id: event.id });
  }

  // Drain; then resolve the dead (replay or skip), and drain again, until nothing is left.
  for (let round = 0; round < 200; round++) {
    await drain();
    const dead = await store.listDead();
    expect(dead.map((d) => `${d.subscriberId}/${d.event.id}`).sort()).toEqual([...deadNow].sort());
    if (dead.length === 0) break;
    for (const d of dead) {
      const lane = lanes.get(laneKey(d.subscriberId, d.event.subject)) ?? [];
      // A dead event is the head of its lane: the ones behind it wait.
      expect(lane[0]).toBe(d.event.id);
      everDead.add(`${d.subscriberId}/${d.event.id}`);
      deadNow.delete(`${d.subscriberId}/${d.event.id}`);
      if (scenario.resolutions[resolution++] ?? false) {
        expect(await store.skip(d.event.id, d.subscriberId)).toBe(1);
        lane.shift();
        skipped.add(`${d.subscriberId}/${d.event.id}`);
      } else {
        expect(await store.replay(d.event.id, d.subscriberId)).toBe(1);
      }
    }
  }
  await dispatcher.stop(1000);
  for (const { sub, id } of all) {
    const k = `${sub}/${id}`;
    expect([k, delivered.has(k) || (skipped.has(k) && everDead.has(k))]).toEqual([k, true]);
  }
  expect(await store.pending()).toBe(0);
  // Delivered ids are remembered: enqueueing one again is a no-op.
  if (all[0]) expect(await store.enqueue(all[0].sub, { id: all[0].id, subject: 'ENTERPRISE:0', type: 'X_Y', occurredAt: new Date().toISOString() })).toBe(false);
}
