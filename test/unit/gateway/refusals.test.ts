import type { AuditRecordInput } from '../../../src/audit';
import { createRefusalAggregator, type RefusalAggregator } from '../../../src/gateway/refusals';

const T0 = Date.parse('2025-06-01T09:00:00.000Z');

describe('the refusal aggregator', () => {
  let clock: number;
  let written: AuditRecordInput[];
  let aggregator: RefusalAggregator | undefined;
  const start = (options: { maxKeysPerWindow?: number; append?: (r: AuditRecordInput) => Promise<unknown>; onError?: (e: unknown) => void } = {}) =>
    (aggregator = createRefusalAggregator({
      append: options.append ?? (async (r) => void written.push(r)),
      now: () => clock,
      ...(options.maxKeysPerWindow ? { maxKeysPerWindow: options.maxKeysPerWindow } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    }));

  beforeEach(() => {
    clock = T0 + 250;
    written = [];
  });
  afterEach(async () => {
    await aggregator?.close().catch(() => undefined);
    aggregator = undefined;
  });

  it('turns 10 000 refusals from one source in one second into one record with count 10 000', async () => {
    const a = start();
    for (let i = 0; i < 10_000; i++) a.refuse('203.0.113.7', 'UNAUTHENTICATED');
    await a.flush();
    expect(written).toEqual([]); // the second is still open
    clock = T0 + 1000;
    await a.flush();
    expect(written).toEqual([
      {
        requestId: `agg-${T0 / 1000}-1`,
        correlationId: null,
        source: '203.0.113.7',
        consumer: null,
        operator: null,
        purpose: null,
        caseNumber: null,
        operationName: null,
        operationHash: null,
        subjects: [],
        fields: {},
        outcome: 'DENIED',
        errorCodes: ['UNAUTHENTICATED'],
        replyHash: null,
        receiptId: null,
        count: 10_000,
        window: { from: '2025-06-01T09:00:00.000Z', to: '2025-06-01T09:00:01.000Z' },
      },
    ]);
    await a.flush();
    expect(written).toHaveLength(1);
  });

  it('keeps sources, reasons and seconds apart', async () => {
    const a = start();
    a.refuse('203.0.113.7', 'UNAUTHENTICATED');
    a.refuse('203.0.113.8', 'UNAUTHENTICATED');
    a.refuse('203.0.113.8', 'BAD_REQUEST');
    clock = T0 + 1500;
    a.refuse('203.0.113.7', 'UNAUTHENTICATED');
    await a.close();
    expect(written.map((r) => [r.source, r.errorCodes, r.count, r.window!.from])).toEqual([
      ['203.0.113.7', ['UNAUTHENTICATED'], 1, '2025-06-01T09:00:00.000Z'],
      ['203.0.113.8', ['UNAUTHENTICATED'], 1, '2025-06-01T09:00:00.000Z'],
      ['203.0.113.8', ['BAD_REQUEST'], 1, '2025-06-01T09:00:00.000Z'],
      ['203.0.113.7', ['UNAUTHENTICATED'], 1, '2025-06-01T09:00:01.000Z'],
    ]);
    expect(new Set(written.map((r) => r.requestId)).size).toBe(4);
  });

  it('counts the addresses of one IPv6 /64 as one source', async () => {
    const a = start();
    for (let i = 1; i <= 100; i++) a.refuse(`2001:db8:1:2::${i.toString(16)}`, 'UNAUTHENTICATED');
    a.refuse('2001:db8:1:2::/64', 'UNAUTHENTICATED');
    a.refuse('2001:db8:1:3::1', 'UNAUTHENTICATED');
    await a.close();
    expect(written.map((r) => [r.source, r.count])).toEqual([
      ['2001:db8:1:2::/64', 101],
      ['2001:db8:1:3::/64', 1],
    ]);
  });

  it('puts refusals past maxKeysPerWindow into one overflow bucket "*"', async () => {
    const a = start({ maxKeysPerWindow: 3 });
    for (let i = 1; i <= 10; i++) a.refuse(`198.51.100.${i}`, i % 2 === 0 ? 'UNAUTHENTICATED' : 'BAD_REQUEST');
    a.refuse('198.51.100.1', 'BAD_REQUEST'); // an existing bucket keeps counting
    await a.close();
    expect(written.map((r) => [r.source, r.errorCodes, r.count])).toEqual([
      ['198.51.100.1', ['BAD_REQUEST'], 2],
      ['198.51.100.2', ['UNAUTHENTICATED'], 1],
      ['198.51.100.3', ['BAD_REQUEST'], 1],
      ['*', ['BAD_REQUEST', 'UNAUTHENTICATED'], 7],
    ]);
  });

  it('counts a source that is not an address as unknown', async () => {
    const a = start();
    a.refuse('x'.repeat(500_000), 'UNAUTHENTICATED');
    a.refuse('unknown', 'UNAUTHENTICATED');
    await a.close();
    expect(written.map((r) => [r.source, r.count])).toEqual([['unknown', 2]]);
  });

  it('reports a failed write to onError, or rejects flush without it', async () => {
    const errors: unknown[] = [];
    const failure = new Error('disk full');
    const a = start({ append: () => Promise.reject(failure), onError: (e) => errors.push(e) });
    a.refuse('203.0.113.7', 'UNAUTHENTICATED');
    a.refuse('203.0.113.8', 'UNAUTHENTICATED');
    await a.close();
    expect(errors).toEqual([failure]);
    const b = createRefusalAggregator({ append: () => Promise.reject(failure), now: () => clock });
    b.refuse('203.0.113.7', 'UNAUTHENTICATED');
    await expect(b.close()).rejects.toBe(failure);
  });

  it('writes closed seconds on its own every second', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    try {
      const a = start();
      a.refuse('203.0.113.7', 'UNAUTHENTICATED');
      clock = T0 + 1200;
      jest.advanceTimersByTime(1000);
      await Promise.resolve();
      await Promise.resolve();
      expect(written.map((r) => r.count)).toEqual([1]);
    } finally {
      jest.useRealTimers();
    }
  });
});
