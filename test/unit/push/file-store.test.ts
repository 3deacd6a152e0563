/**
 * The embedded file queue: idempotent enqueue, lanes, dead letters, and durability: reopened
 * after a close or a crash it holds every undelivered event; a torn last line is dropped, a
 * damaged one refused; compaction keeps the state. And the shared property (store-model.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { openFileStore, type DeliveryStore, type PushEvent } from '../../../src/push';
import { runScenario, scenarioArb } from './store-model';

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'datarun-push-'))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const ev = (id: string, subject = 'ENTERPRISE:1'): PushEvent => ({ id, subject, type: 'ENTERPRISE_REGISTERED', occurredAt: '2026-01-01T00:00:00Z' });
const ids = async (store: DeliveryStore, now = 0): Promise<string[]> => (await store.claim(100, now)).map((c) => `${c.subscriberId}/${c.event.id}`);

describe('the file delivery store', () => {
  it('is idempotent by event id per subscriber, and hands out only lane heads', async () => {
    const store = openFileStore({ file: path.join(dir, 'q') });
    expect(await store.enqueue('a', ev('1'))).toBe(true);
    expect(await store.enqueue('a', ev('1'))).toBe(false);
    expect(await store.enqueue('b', ev('1'))).toBe(true);
    expect(await store.enqueue('a', ev('2'))).toBe(true);
    expect(await store.enqueue('a', ev('3', 'ENTERPRISE:2'))).toBe(true);
    const claims = await store.claim(100, 0);
    expect(claims.map((c) => `${c.subscriberId}/${c.event.id}`).sort()).toEqual(['a/1', 'a/3', 'b/1']);
    expect(await ids(store)).toEqual([]);
    expect(await store.complete(claims[0]!)).toBe(true);
    expect(await store.complete(claims[0]!)).toBe(false);
    expect(await ids(store)).toEqual(['a/2']);
    // Delivered and still remembered.
    expect(await store.enqueue('a', ev('1'))).toBe(false);
    await store.close();
  });

  it('holds a lane behind a dead event until replay or skip', async () => {
    const store = openFileStore({ file: path.join(dir, 'q') });
    await store.enqueue('a', ev('1'));
    await store.enqueue('a', ev('2'));
    const [c] = await store.claim(10, 0);
    await store.kill(c!, 'gone', 5);
    expect(await ids(store)).toEqual([]);
    expect(await store.listDead()).toEqual([{ subscriberId: 'a', event: ev('1'), attempts: 0, reason: 'gone', at: 5 }]);
    expect(await store.listDead('b')).toEqual([]);
    await expect(store.replay('2')).rejects.toMatchObject({ code: 'PUSH_NOT_DEAD' });
    expect(await store.replay('1')).toBe(1);
    const [again] = await store.claim(10, 0);
    expect(again!.event.id).toBe('1');
    await store.kill(again!, 'gone again', 6);
    expect(await store.skip('1', 'a')).toBe(1);
    expect(await ids(store)).toEqual(['a/2']);
    await store.close();
  });

  it('keeps retries due later, and survives a reopen with attempts, due times and dead letters', async () => {
    const file = path.join(dir, 'q');
    let store = openFileStore({ file });
    await store.enqueue('a', ev('1'));
    await store.enqueue('a', ev('2', 'ENTERPRISE:2'));
    await store.enqueue('a', ev('3', 'ENTERPRISE:3'));
    const claims = await store.claim(10, 0);
    await store.retry(claims[0]!, 1000, 'busy');
    await store.kill(claims[1]!, 'bad', 1);
    // The third stays claimed when the process "dies": after the reopen it is due again.
    expect(() => openFileStore({ file })).toThrow(/held by live process/);
    await store.close();
    store = openFileStore({ file });
    expect(await store.pending()).toBe(3);
    expect(await ids(store, 999)).toEqual(['a/3']);
    const [late] = await store.claim(10, 1000);
    expect(late).toMatchObject({ event: { id: '1' }, attempts: 1 });
    expect((await store.listDead()).map((d) => d.event.id)).toEqual(['2']);
    await store.close();
  });

  it('drops a torn last line, refuses a damaged middle line, and takes over a dead process\'s lock', async () => {
    const file = path.join(dir, 'q');
    const store = openFileStore({ file });
    await store.enqueue('a', ev('1'));
    await store.enqueue('a', ev('2'));
    // A crash: the lock stays, and half a line was written.
    fs.writeFileSync(`${file}.lock`, '999999999');
    fs.appendFileSync(file, '{"o":"e","s":"a","ev":{"id":"3"');
    const reopened = openFileStore({ file });
    expect(await reopened.pending()).toBe(2);
    expect(await reopened.enqueue('a', ev('3'))).toBe(true);
    await reopened.close();
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[1] = 'garbage';
    fs.writeFileSync(file, lines.join('\n'));
    expect(() => openFileStore({ file })).toThrow(expect.objectContaining({ code: 'PUSH_QUEUE_CORRUPT', message: expect.stringContaining('line 2') }));
    void store;
  });

  it('compacts the log and keeps its state', async () => {
    const file = path.join(dir, 'q');
    let store = openFileStore({ file, compactAfter: 10 });
    for (let i = 0; i < 30; i++) {
      await store.enqueue('a', ev(`d${i}`));
      const [c] = await store.claim(1, 0);
      await store.complete(c!);
    }
    await store.enqueue('a', ev('live'));
    expect(fs.readFileSync(file, 'utf8').split('\n').length).toBeLessThan(40);
    await store.close();
    store = openFileStore({ file });
    expect(await ids(store)).toEqual(['a/live']);
    expect(await store.enqueue('a', ev('d3'))).toBe(false);
    await store.close();
  });

  it('refuses bad input with PUSH_INPUT_INVALID naming it', async () => {
    expect(() => openFileStore({ file: path.join(dir, 'missing', 'q') })).toThrow(/does not exist/);
    const store = openFileStore({ file: path.join(dir, 'q') });
    await expect(store.enqueue('a', { ...ev('1'), subject: '' })).rejects.toThrow(/subject/);
    await expect(store.enqueue('has space', ev('1'))).rejects.toThrow(/subscriber id/);
    await expect(store.enqueue('a', { ...ev('1'), occurredAt: 'soon' })).rejects.toThrow(/occurredAt/);
    await store.close();
  });

  it('keeps order per subject, delivers everything not dead, and holds lanes behind dead events (property)', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const file = path.join(dir, `q${n++}`);
        const store = openFileStore({ file, compactAfter: 5 });
        try {
          await runScenario(store, scenario);
        } finally {
          await store.close();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('writes the changes made together with one fsync (enqueueAll, deliveries completing at once), durable when they resolve', async () => {
    const file = path.join(dir, 'q');
    const store = openFileStore({ file });
    const fsyncs = jest.spyOn(fs, 'fsync');
    try {
      const items = Array.from({ length: 40 }, (_, k) => ({ subscriberId: 'a', event: ev(`e${k}`, `ENTERPRISE:${k % 8}`) }));
      // An event id twice in one call is queued once; order within a lane is the order given.
      expect(await store.enqueueAll([...items, items[0]!])).toEqual([...items.map(() => true), false]);
      expect(fsyncs.mock.calls.length).toBeLessThanOrEqual(2);
      const claims = await store.claim(100, 0);
      expect(claims.map((c) => c.event.id).sort()).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7']);
      fsyncs.mockClear();
      expect(await Promise.all(claims.map((c) => store.complete(c)))).toEqual(claims.map(() => true));
      expect(fsyncs.mock.calls.length).toBeLessThanOrEqual(2);
      // Every change that resolved is in the file.
      const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
      expect(lines.filter((l) => l.startsWith('{"o":"e"')).length).toBe(40);
      expect(lines.filter((l) => l.startsWith('{"o":"c"')).length).toBe(8);
    } finally {
      fsyncs.mockRestore();
      await store.close();
    }
    const reopened = openFileStore({ file });
    expect((await reopened.claim(100, 0)).map((c) => c.event.id).sort()).toEqual(['e10', 'e11', 'e12', 'e13', 'e14', 'e15', 'e8', 'e9']);
    expect(await reopened.pending()).toBe(32);
    await reopened.close();
  });

  it('claims no lane whose last change is not durable yet, and checks every item of enqueueAll before queueing any', async () => {
    const store = openFileStore({ file: path.join(dir, 'q') });
    const queued = store.enqueue('a', ev('1'));
    // Applied, not yet written: not handed out.
    expect(await store.claim(10, 0)).toEqual([]);
    await queued;
    expect(await ids(store)).toEqual(['a/1']);
    await expect(store.enqueueAll([{ subscriberId: 'a', event: ev('2') }, { subscriberId: 'a', event: { ...ev('3'), subject: '' } }])).rejects.toThrow(/subject/);
    expect(await store.pending()).toBe(1);
    await store.close();
  });
});
