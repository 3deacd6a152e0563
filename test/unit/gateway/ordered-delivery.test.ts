/**
 * Ordered deliveries (src/gateway/ordered-delivery.ts) with a stand-in for `Pipeline.stage`:
 * each event is refused as it runs or not, its record becomes durable or fails, and fast-check's
 * scheduler settles the runs and the records in random order. Checked on every run: no reply is
 * sent before its record is durable, replies go out in event order, events run one at a time in
 * order, nothing is run after a refusal or once the line is stopped, nothing is sent after a
 * refusal, a failed record or a stop, and everything before the first of those is sent.
 */
import fc from 'fast-check';
import { deliverInOrder, type HubReply, type StagedDelivery } from '../../../src/gateway';

type Step = { kind: 'run' | 'ran' | 'durable' | 'failed' | 'sent' | 'stopped'; i: number };

const granted = (i: number): HubReply => ({ requestId: `r${i}`, code: null, body: { data: { n: i } } });
const refused = (i: number, code: 'POLICY_DENIED' | 'AUDIT_UNAVAILABLE'): HubReply => ({ requestId: `r${i}`, code, body: { errors: [{ message: code, extensions: { code } }] } });

const planArb = fc.record({
  /** Events waiting. */
  count: fc.integer({ min: 0, max: 25 }),
  /** How often an event is refused or its record fails (so that long runs without either are common too). */
  refuseOneIn: fc.integer({ min: 2, max: 40 }),
  failOneIn: fc.integer({ min: 2, max: 40 }),
  /** Per event: whether it is refused as it runs, or its record fails. */
  seeds: fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 25, maxLength: 25 }),
  /** After this many runs the line is stopped (the stream ended); beyond the events: never. */
  stopAfter: fc.integer({ min: 0, max: 30 }),
  window: fc.integer({ min: 1, max: 8 }),
});

describe('ordered deliveries', () => {
  it('property: a reply leaves after its record is durable, in order; nothing runs after a refusal or a stop, nothing is sent after a failure', async () => {
    await fc.assert(
      fc.asyncProperty(planArb, fc.scheduler(), async (plan, s) => {
        const n = plan.count;
        const isRefused = (i: number): boolean => plan.seeds[i]! % plan.refuseOneIn === 0;
        const isFailing = (i: number): boolean => !isRefused(i) && Math.floor(plan.seeds[i]! / 7) % plan.failOneIn === 0;
        const log: Step[] = [];
        let next = 0;
        let runs = 0;
        let running = 0;
        let unsent = 0;
        let maxUnsent = 0;
        let stopped = false;
        const stage = async (i: number): Promise<StagedDelivery> => {
          expect(running).toBe(0);
          running++;
          runs++;
          log.push({ kind: 'run', i });
          // The run itself takes a while (a department read), settled at random among the records' writes.
          await s.schedule(Promise.resolve(), `run ${i}`);
          running--;
          log.push({ kind: 'ran', i });
          unsent++;
          maxUnsent = Math.max(maxUnsent, unsent);
          // A refusal's record too is written before it goes out.
          const reply = s.schedule(Promise.resolve(), `record ${i}`).then(() => {
            unsent--;
            if (isFailing(i)) {
              log.push({ kind: 'failed', i });
              return refused(i, 'AUDIT_UNAVAILABLE');
            }
            log.push({ kind: 'durable', i });
            return isRefused(i) ? refused(i, 'POLICY_DENIED') : granted(i);
          });
          return { code: isRefused(i) ? 'POLICY_DENIED' : null, reply };
        };
        const result = await s.waitFor(
          deliverInOrder<number>({
            next: () => (next < n ? next++ : undefined),
            stage,
            stopped: () => {
              if (!stopped && runs >= plan.stopAfter && plan.stopAfter < n) {
                stopped = true;
                log.push({ kind: 'stopped', i: runs });
              }
              return stopped;
            },
            send(reply, i) {
              expect(reply).toEqual(granted(i));
              log.push({ kind: 'sent', i });
            },
            window: plan.window,
          }),
        );
        await s.waitIdle();

        const at = (kind: Step['kind'], i: number): number => log.findIndex((step) => step.kind === kind && step.i === i);
        const ran = log.filter((step) => step.kind === 'run').map((step) => step.i);
        const sent = log.filter((step) => step.kind === 'sent').map((step) => step.i);
        // (b) events run one at a time, in order; replies in order.
        expect(ran).toEqual(ran.map((_, k) => k));
        expect(sent).toEqual(sent.map((_, k) => k));
        expect(result.sent).toBe(sent.length);
        // (a) nothing sent before its record is durable; never a failed one.
        for (const i of sent) {
          expect(at('durable', i)).toBeGreaterThanOrEqual(0);
          expect(at('durable', i)).toBeLessThan(at('sent', i));
        }
        // The window: at most that many run and not yet settled.
        expect(maxUnsent).toBeLessThanOrEqual(plan.window);
        // (c) nothing run after a refusal as it ran: the refused one is the last run.
        const firstRefused = ran.find(isRefused);
        if (firstRefused !== undefined) expect(ran.at(-1)).toBe(firstRefused);
        // (c) nothing run or sent once stopped.
        const stop = log.findIndex((step) => step.kind === 'stopped');
        if (stop >= 0) expect(log.slice(stop).some((step) => step.kind === 'run' || step.kind === 'sent')).toBe(false);
        // Nothing sent at or after the first refusal or failed record; everything before it is, unless stopped.
        const firstBad = ran.find((i) => isRefused(i) || isFailing(i));
        if (firstBad !== undefined) expect(sent.every((i) => i < firstBad)).toBe(true);
        if (stop < 0) {
          const expected = firstBad ?? n;
          expect(sent.length).toBe(expected);
          if (firstBad !== undefined) expect(result.refusal?.code).toBe(isRefused(firstBad) ? 'POLICY_DENIED' : 'AUDIT_UNAVAILABLE');
          else expect(result.refusal).toBeUndefined();
          // Without a refusal as it ran, every event was run (a failed record is known only once written).
          if (firstRefused === undefined && firstBad === undefined) expect(ran.length).toBe(n);
        } else {
          expect(result.refusal === undefined || firstBad !== undefined).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('sends the replies before a refusal, then hands the refusal back; the events after it stay unrun', async () => {
    const events = [0, 1, 2, 3, 4];
    const ran: number[] = [];
    const sent: number[] = [];
    const result = await deliverInOrder<number>({
      next: () => events.shift(),
      async stage(i) {
        ran.push(i);
        return i === 2 ? { code: 'POLICY_DENIED', reply: Promise.resolve(refused(i, 'POLICY_DENIED')) } : { code: null, reply: Promise.resolve(granted(i)) };
      },
      stopped: () => false,
      send: (_reply, i) => void sent.push(i),
    });
    expect(ran).toEqual([0, 1, 2]);
    expect(sent).toEqual([0, 1]);
    expect(result.refusal?.code).toBe('POLICY_DENIED');
    expect(events).toEqual([3, 4]);
  });

  it('runs the next event while the records before it are written (their writes pending together)', async () => {
    const writes: (() => void)[] = [];
    const sent: number[] = [];
    let pendingAtOnce = 0;
    const events = [0, 1, 2, 3];
    const line = deliverInOrder<number>({
      next: () => events.shift(),
      async stage(i) {
        const reply = new Promise<HubReply>((resolve) => writes.push(() => resolve(granted(i))));
        pendingAtOnce = Math.max(pendingAtOnce, writes.length);
        return { code: null, reply };
      },
      stopped: () => false,
      send: (_reply, i) => void sent.push(i),
    });
    // Every record is appended before the first is durable; none is sent yet.
    await new Promise((resolve) => setImmediate(resolve));
    expect(pendingAtOnce).toBe(4);
    expect(sent).toEqual([]);
    // Durable out of order: sent in order, each once it and every one before it are durable.
    writes[2]!();
    writes[1]!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toEqual([]);
    writes[0]!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toEqual([0, 1, 2]);
    writes[3]!();
    expect((await line).sent).toBe(4);
    expect(sent).toEqual([0, 1, 2, 3]);
  });

  it('rejects when a run throws, after sending the replies before it', async () => {
    const events = [0, 1, 2];
    const sent: number[] = [];
    await expect(
      deliverInOrder<number>({
        next: () => events.shift(),
        async stage(i) {
          if (i === 1) throw new Error('boom');
          return { code: null, reply: Promise.resolve(granted(i)) };
        },
        stopped: () => false,
        send: (_reply, i) => void sent.push(i),
      }),
    ).rejects.toThrow('boom');
    expect(sent).toEqual([0]);
    expect(events).toEqual([2]);
  });
});
