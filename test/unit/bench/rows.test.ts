/**
 * Pieces of the benchmark's rows added for issue 19: the living-allowance lists at 10 and 100
 * persons (S3-10, S3-100) and reading the hub's event-loop delay from its `/metrics`.
 */
import fc from 'fast-check';
import { eventLoopP99FromMetrics } from '../../../bench/lib/event-loop';
import { resizeFamilies } from '../../../bench/lib/pools';

const lists = (count: number, size: number): string[][] => Array.from({ length: count }, (_, i) => Array.from({ length: size }, (_, j) => `p${i}-${j}`));

describe('resizeFamilies', () => {
  it('cuts each list to fewer persons, keeping as many lists', () => {
    const resized = resizeFamilies(lists(4, 50), 10);
    expect(resized).toHaveLength(4);
    expect(resized[1]).toEqual(lists(4, 50)[1]!.slice(0, 10));
  });

  it('joins consecutive lists for more persons, dropping a group too short to fill one', () => {
    const resized = resizeFamilies(lists(5, 50), 100);
    expect(resized).toHaveLength(2);
    expect(resized[0]).toEqual([...lists(5, 50)[0]!, ...lists(5, 50)[1]!]);
  });

  it('gives lists of exactly the size asked, of distinct persons, in the input\'s order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 150 }), (count, size, persons) => {
        const input = lists(count, size);
        const resized = resizeFamilies(input, persons);
        const flat = resized.flat();
        expect(resized.every((l) => l.length === persons)).toBe(true);
        expect(new Set(flat).size).toBe(flat.length);
        const order = new Map(input.flat().map((id, i) => [id, i]));
        for (let i = 1; i < flat.length; i++) expect(order.get(flat[i]!)!).toBeGreaterThan(order.get(flat[i - 1]!)!);
        // Nothing is lost that could have filled a list: at most one group's worth is left over.
        if (persons >= size) expect(resized.length).toBe(Math.floor(count / Math.ceil(persons / size)));
        else expect(resized.length).toBe(count);
      }),
    );
  });

  it('refuses a size that is not a positive integer, naming it', () => {
    expect(() => resizeFamilies(lists(1, 5), 0)).toThrow('persons per list must be a positive integer, but got 0');
    expect(() => resizeFamilies(lists(1, 5), 2.5)).toThrow('but got 2.5');
  });
});

describe('eventLoopP99FromMetrics', () => {
  it('reads prom-client\'s p99 event-loop lag in ms', () => {
    const text = ['# HELP nodejs_eventloop_lag_p99_seconds The 99th percentile of the recorded event loop delays.', '# TYPE nodejs_eventloop_lag_p99_seconds gauge', 'nodejs_eventloop_lag_p90_seconds 0.011', 'nodejs_eventloop_lag_p99_seconds 0.012435455', ''].join('\n');
    expect(eventLoopP99FromMetrics(text)).toBeCloseTo(12.435455, 6);
    expect(eventLoopP99FromMetrics('nodejs_eventloop_lag_p99_seconds{instance="a"} 0.5\n')).toBe(500);
  });

  it('answers undefined when the metric is absent or not a number', () => {
    expect(eventLoopP99FromMetrics('nodejs_eventloop_lag_p90_seconds 0.011\n')).toBeUndefined();
    expect(eventLoopP99FromMetrics('nodejs_eventloop_lag_p99_seconds NaN\n')).toBeUndefined();
    expect(eventLoopP99FromMetrics('')).toBeUndefined();
  });
});
