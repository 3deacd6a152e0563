/**
 * The bench's tally of failed replies by error code (bench/lib/error-codes.ts): what each reply
 * body counts as, and the row's sum over its rounds.
 */
import fc from 'fast-check';
import { countCodes, errorCodesOf, formatErrorCodes, mergeErrorCodes, NO_CODE, NOT_JSON } from '../../../bench/lib/error-codes';
import { summarize, type RoundResult } from '../../../bench/lib/report';

const reply = (errors: unknown[]): string => JSON.stringify({ data: null, errors });

describe('errorCodesOf', () => {
  it('reads nothing from a reply without errors', () => {
    expect(errorCodesOf('{"data":{"person":{"name":"张三"}}}')).toEqual([]);
    expect(errorCodesOf('{"data":{},"errors":[]}')).toEqual([]);
  });

  it('counts each distinct code of a reply once', () => {
    const body = reply([
      { message: 'tax timed out', extensions: { code: 'UPSTREAM_TIMEOUT' } },
      { message: 'social security timed out', extensions: { code: 'UPSTREAM_TIMEOUT' } },
      { message: 'denied', extensions: { code: 'POLICY_DENIED' } },
    ]);
    expect(errorCodesOf(body).sort()).toEqual(['POLICY_DENIED', 'UPSTREAM_TIMEOUT']);
  });

  it('names an error without a code, and a body that is not JSON', () => {
    expect(errorCodesOf(reply([{ message: 'boom' }, { message: 'odd', extensions: { code: 42 } }]))).toEqual([NO_CODE]);
    expect(errorCodesOf('<html>"errors" 502 Bad Gateway</html>')).toEqual([NOT_JSON]);
  });
});

describe('the row tally', () => {
  it('sums the rounds, most frequent code first in the printed form', () => {
    const round = (errorCodes?: Record<string, number>): RoundResult => ({
      load: { requests: 100, durationSec: 1, reqPerSec: 100, latencyMs: { p50: 1, p90: 1, p99: 1, mean: 1, max: 1 }, non2xx: 0, errors: 0, timeouts: 0, graphqlErrors: 0, ...(errorCodes ? { errorCodes } : {}), cpuSec: 0 },
      rssPeakMiB: 1,
      rssMeanMiB: 1,
      cpuSec: { server: 0.1, departments: 0, loadGenerator: 0 },
    });
    const summary = summarize([round({ UPSTREAM_TIMEOUT: 20 }), round(), round({ UPSTREAM_TIMEOUT: 5, RATE_LIMITED: 1 })]);
    expect(summary.errorCodes).toEqual({ UPSTREAM_TIMEOUT: 25, RATE_LIMITED: 1 });
    expect(formatErrorCodes(summary.errorCodes)).toBe(' (UPSTREAM_TIMEOUT 25, RATE_LIMITED 1)');
    expect(summarize([round(), round({})]).errorCodes).toBeUndefined();
    expect(formatErrorCodes(undefined)).toBe('');
  });

  it('loses no count when tallies are merged', () => {
    const code = fc.constantFrom('UPSTREAM_TIMEOUT', 'POLICY_DENIED', 'RATE_LIMITED', NO_CODE);
    fc.assert(
      fc.property(fc.array(fc.array(code, { maxLength: 20 }), { maxLength: 6 }), (rounds) => {
        const tallies = rounds.map((codes) => countCodes({}, codes));
        const merged = mergeErrorCodes(tallies);
        const total = (t: Record<string, number>): number => Object.values(t).reduce((a, b) => a + b, 0);
        expect(total(merged)).toBe(rounds.reduce((n, codes) => n + codes.length, 0));
        for (const c of ['UPSTREAM_TIMEOUT', 'POLICY_DENIED', 'RATE_LIMITED', NO_CODE]) {
          expect(merged[c] ?? 0).toBe(rounds.flat().filter((x) => x === c).length);
        }
      }),
    );
  });
});
