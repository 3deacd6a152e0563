/**
 * Issue 19's benchmark verdicts (bench/lib/verdicts.ts): gates 1–4, goals 5–8 and the linear fit
 * of goal 5, on figures made up here (no server).
 */
import fc from 'fast-check';
import { atLeast, atMost, gate1, gate2, gate3, gate4, goal5Linearity, goal5Throughput, goal6, goal7, goal8, linearFit, versusCeiling, type RowFigures } from '../../../bench/lib/verdicts';

const row = (over: Partial<RowFigures> = {}): RowFigures => ({ reqPerSec: 1000, p50Ms: 10, p99Ms: 20, serverCpuMsPerReq: 1, rssPeakMiB: 200, ...over });

describe('gates', () => {
  it('gate 1: S1 secure needs 0.6× B1 req/s and p99 within 1.5× B1, unsecured 0.9×', () => {
    const b1 = row({ reqPerSec: 1000, p99Ms: 20 });
    const [rate, p99] = gate1('secure', row({ reqPerSec: 600, p99Ms: 30 }), b1);
    expect(rate).toMatchObject({ status: 'met', target: expect.stringMatching(/^gate 1: S1 secure ≥ 0.6× B1 req\/s/) });
    expect(p99).toMatchObject({ status: 'met' });
    const missed = gate1('secure', row({ reqPerSec: 300, p99Ms: 40 }), b1);
    expect(missed[0]).toMatchObject({ status: 'missed', measured: '0.30×', gap: 'needs 2.00× its throughput' });
    expect(missed[1]).toMatchObject({ status: 'missed', gap: '10.0 ms over' });
    expect(gate1('unsecured', row({ reqPerSec: 899 }), b1)).toEqual([expect.objectContaining({ status: 'missed' })]);
    expect(gate1('unsecured', row({ reqPerSec: 900 }), b1)).toEqual([expect.objectContaining({ status: 'met' })]);
  });

  it('gate 2: S2 secure needs 0.7× B2 req/s and CPU per request within 1.6× B2, unsecured 0.9×', () => {
    const b2 = row({ reqPerSec: 1000, serverCpuMsPerReq: 0.5 });
    const [rate, cpu] = gate2('secure', row({ reqPerSec: 700, serverCpuMsPerReq: 0.8 }), b2);
    expect(rate).toMatchObject({ status: 'met' });
    expect(cpu).toMatchObject({ status: 'met', target: expect.stringMatching(/^gate 2: /) });
    const [, over] = gate2('secure', row({ reqPerSec: 700, serverCpuMsPerReq: 1 }), b2);
    expect(over).toMatchObject({ status: 'missed', gap: '0.20 CPU ms/req over' });
    expect(gate2('unsecured', row({ reqPerSec: 950 }), b2)).toHaveLength(1);
  });

  it('gate 3 and gate 4', () => {
    expect(gate3('secure', row({ reqPerSec: 3000 }), row({ reqPerSec: 1000 }))).toMatchObject({ status: 'met', target: expect.stringMatching(/^gate 3: S2p secure ≥ 3×/) });
    expect(gate3('unsecured', row({ reqPerSec: 1500 }), row({ reqPerSec: 1000 }))).toMatchObject({ status: 'missed', gap: 'needs 2.00× its throughput' });
    expect(gate4(row({ reqPerSec: 900 }), row({ reqPerSec: 1000 }))).toMatchObject({ status: 'met', target: expect.stringMatching(/^gate 4: durable access log/) });
    expect(gate4(row({ reqPerSec: 850 }), row({ reqPerSec: 1000 }))).toMatchObject({ status: 'missed' });
  });

  it('answers "not measured", naming the figure, when a baseline has nothing to divide by', () => {
    expect(gate1('secure', row(), row({ reqPerSec: 0 }))).toEqual([expect.objectContaining({ status: 'not measured', measured: expect.stringContaining('B1 req/s is 0') })]);
    expect(gate2('unsecured', row(), row({ serverCpuMsPerReq: Number.NaN }))[0]).toMatchObject({ status: 'not measured' });
    expect(gate3('secure', row(), row({ reqPerSec: -1 }))).toMatchObject({ status: 'not measured' });
    expect(gate4(row(), row({ reqPerSec: Number.POSITIVE_INFINITY }))).toMatchObject({ status: 'not measured' });
    expect(goal5Throughput('secure', row(), row({ reqPerSec: 0 }))).toMatchObject({ status: 'not measured' });
  });

  it('a ratio check is met exactly when the ratio reaches its bound, and a missed one says by how much', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 100, noNaN: true }), fc.double({ min: 0.01, max: 100, noNaN: true }), (ratio, bound) => {
        const low = atLeast('t', ratio, bound);
        expect(low.status).toBe(ratio >= bound ? 'met' : 'missed');
        if (low.status === 'missed') expect(low.gap).toMatch(/^needs \d+\.\d\d× its throughput$/);
        const high = atMost('t', ratio, bound, 'over');
        expect(high.status).toBe(ratio <= bound ? 'met' : 'missed');
      }),
    );
    expect(atLeast('t', Number.NaN, 1).status).toBe('not measured');
  });
});

describe('goal 5', () => {
  it('S3 unsecured needs 0.8× B2-S3 req/s, secure 0.6×', () => {
    const b = row({ reqPerSec: 100 });
    expect(goal5Throughput('unsecured', row({ reqPerSec: 80 }), b)).toMatchObject({ status: 'met', target: expect.stringMatching(/^goal 5: /) });
    expect(goal5Throughput('secure', row({ reqPerSec: 59 }), b)).toMatchObject({ status: 'missed' });
    expect(goal5Throughput('secure', row({ reqPerSec: 60 }), b)).toMatchObject({ status: 'met' });
  });

  it('fits an exact line exactly', () => {
    const fit = linearFit([
      { x: 10, y: 2 },
      { x: 50, y: 6 },
      { x: 100, y: 11 },
    ]);
    expect(fit.slope).toBeCloseTo(0.1, 10);
    expect(fit.intercept).toBeCloseTo(1, 10);
    expect(fit.maxRelativeResidual).toBeLessThan(1e-9);
  });

  it('recovers any positive line, and its residuals are the points\' distance from it', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 10, noNaN: true }),
        fc.double({ min: 0.001, max: 1, noNaN: true }),
        fc.uniqueArray(fc.integer({ min: 1, max: 1000 }), { minLength: 2, maxLength: 6 }),
        (intercept, slope, xs) => {
          const fit = linearFit(xs.map((x) => ({ x, y: intercept + slope * x })));
          expect(fit.slope).toBeCloseTo(slope, 6);
          expect(fit.intercept).toBeCloseTo(intercept, 4);
          expect(fit.maxRelativeResidual).toBeLessThan(1e-6);
        },
      ),
    );
  });

  it('least squares: the residuals (absolute) sum to zero and are uncorrelated with x', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ x: fc.integer({ min: 1, max: 200 }), y: fc.double({ min: 1, max: 100, noNaN: true }) }), { minLength: 3, maxLength: 8 }), (points) => {
        fc.pre(new Set(points.map((p) => p.x)).size >= 2);
        let fit;
        try {
          fit = linearFit(points);
        } catch (error) {
          // A line through positive points may still dip to zero or below at one of them: refused, by name.
          expect((error as Error).message).toMatch(/not positive at x = /);
          return;
        }
        const residuals = points.map((p) => p.y - (fit.intercept + fit.slope * p.x));
        const scale = Math.max(...points.map((p) => Math.abs(p.y)));
        expect(Math.abs(residuals.reduce((a, b) => a + b, 0))).toBeLessThan(1e-7 * scale * points.length);
        expect(Math.abs(residuals.reduce((a, r, i) => a + r * points[i]!.x, 0))).toBeLessThan(1e-6 * scale * 200 * points.length);
      }),
    );
  });

  it('refuses what it cannot fit, naming the problem', () => {
    expect(() => linearFit([{ x: 1, y: 1 }])).toThrow('at least 2 points');
    expect(() => linearFit([{ x: 5, y: 1 }, { x: 5, y: 2 }])).toThrow('2 different x values');
    expect(() => linearFit([{ x: 1, y: Number.NaN }, { x: 2, y: 1 }])).toThrow('finite coordinates');
  });

  it('linearity is met within ±20 % and missed beyond, with the residuals printed', () => {
    const linear = goal5Linearity('unsecured', [
      { persons: 10, cpuMsPerReq: 3.1 },
      { persons: 50, cpuMsPerReq: 15 },
      { persons: 100, cpuMsPerReq: 30.2 },
    ]);
    expect(linear).toMatchObject({ status: 'met', measured: expect.stringMatching(/residuals 10: [+-]\d+\.\d %, 50: /) });
    // 50 persons cost as much as 100: the middle point is far above the line through the ends.
    const bent = goal5Linearity('unsecured', [
      { persons: 10, cpuMsPerReq: 1 },
      { persons: 50, cpuMsPerReq: 30 },
      { persons: 100, cpuMsPerReq: 30 },
    ]);
    expect(bent).toMatchObject({ status: 'missed', gap: expect.stringMatching(/^largest residual \d+\.\d %/) });
    expect(goal5Linearity('secure', [{ persons: 50, cpuMsPerReq: 1 }])).toMatchObject({ status: 'not measured', measured: '1 of the 3 sizes measured' });
    // A size whose rounds answered nothing has no CPU per request: not a point of the line.
    expect(
      goal5Linearity('secure', [
        { persons: 10, cpuMsPerReq: 3 },
        { persons: 50, cpuMsPerReq: 15 },
        { persons: 100, cpuMsPerReq: 0 },
      ]),
    ).toMatchObject({ status: 'not measured', measured: 'no CPU per request at 100 persons (no request answered)' });
  });
});

describe('goals 6 to 8', () => {
  it('goal 6: S4 p50 within B2-S4 p50 + 2 ms', () => {
    expect(goal6('secure', row({ p50Ms: 49 }), row({ p50Ms: 47 }))).toMatchObject({ status: 'met' });
    expect(goal6('secure', row({ p50Ms: 50 }), row({ p50Ms: 47 }))).toMatchObject({ status: 'missed', gap: '1.0 ms over' });
  });

  it('goal 7: every hub row of a 100 000-person run within 250 MB, judged in MB', () => {
    // 238 MiB = 249.6 MB, 239 MiB = 250.6 MB.
    expect(goal7(100_000, [{ key: 'S1/secure', rssPeakMiB: 238 }, { key: 'S2/secure', rssPeakMiB: 100 }])).toMatchObject({ status: 'met', measured: expect.stringContaining('S1/secure') });
    expect(goal7(100_000, [{ key: 'S1/secure', rssPeakMiB: 239 }, { key: 'S3/unsecured', rssPeakMiB: 300 }])).toMatchObject({ status: 'missed', gap: 'over in S1/secure 1 MB, S3/unsecured 65 MB' });
    expect(goal7(20_000, [{ key: 'S1/secure', rssPeakMiB: 400 }])).toMatchObject({ status: 'not measured', measured: 'this run has 20000 persons' });
    expect(goal7(100_000, [])).toMatchObject({ status: 'not measured' });
  });

  it('goal 8: met once row C is measured, with each row\'s distance from it', () => {
    const c = row({ reqPerSec: 5000, serverCpuMsPerReq: 0.2 });
    expect(goal8(c, [{ key: 'B1', reqPerSec: 4000 }])).toMatchObject({ status: 'met', measured: expect.stringContaining('B1 0.80×') });
    expect(goal8(undefined, [])).toMatchObject({ status: 'not measured' });
    expect(versusCeiling(row({ reqPerSec: 1000, serverCpuMsPerReq: 1 }), c)).toBe('0.20× C req/s, CPU/req 5.00× C');
  });
});
