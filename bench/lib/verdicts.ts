/**
 * Issue 19's verdicts on one run's figures: gates 1–4 (must hold) and goals 5–8 (a missed one gets
 * a note with profile figures), each `met` / `MISSED` with by how much. Pure arithmetic over the
 * rows' summaries, so that it is unit-tested apart from any server (test/unit/bench/verdicts.test.ts).
 */
import type { TargetCheck } from './report';

/** The figures of one row a verdict reads (a `RowSummary` has them all). */
export interface RowFigures {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuMsPerReq: number;
  rssPeakMiB: number;
}

/** Bytes in a MiB over bytes in a MB: RSS is sampled in MiB, the target is in MB. */
export const MIB_IN_MB = 1.048576;
/** Goal 7: the hub's RSS in every row with this many persons… */
export const RSS_PERSONS = 100_000;
/** …is at most this many MB. */
export const RSS_LIMIT_MB = 250;
/** Goal 5: the largest relative residual of the linear fit of CPU per request against persons. */
export const LINEAR_RESIDUAL_LIMIT = 0.2;

/** The thresholds of issue 19, by gate and goal. */
export const ISSUE_19 = {
  s1: { secure: 0.6, unsecured: 0.9, secureP99: 1.5 },
  s2: { secure: 0.7, unsecured: 0.9, secureCpu: 1.6 },
  s2pOverB3: 3,
  audit: 0.9,
  s3: { secure: 0.6, unsecured: 0.8 },
  s4AllowanceMs: 2,
} as const;

/** The two modes the gates and goals name. */
export type VerdictMode = 'secure' | 'unsecured';

const x = (n: number): string => `${n.toFixed(2)}×`;

/** What is wrong with the figures a ratio divides by (each must be a finite, positive number), or undefined. */
function problemOf(figures: Record<string, number>): string | undefined {
  for (const [name, value] of Object.entries(figures)) {
    if (!Number.isFinite(value) || value <= 0) return `${name} is ${String(value)}, not a positive number: no ratio`;
  }
  return undefined;
}

/** A check of `measured ≥ min` (a ratio of throughputs): met, or missed with the throughput it needs. */
export function atLeast(target: string, ratio: number, min: number, measured = x(ratio)): TargetCheck {
  if (!Number.isFinite(ratio)) return { target, measured: String(ratio), status: 'not measured' };
  return ratio >= min ? { target, measured, status: 'met' } : { target, measured, status: 'missed', gap: ratio > 0 ? `needs ${x(min / ratio)} its throughput` : 'nothing answered' };
}

/** A check of `ratio ≤ max` (a ratio of latencies or costs): met, or missed with how far over. */
export function atMost(target: string, ratio: number, max: number, over: string, measured = x(ratio)): TargetCheck {
  if (!Number.isFinite(ratio)) return { target, measured: String(ratio), status: 'not measured' };
  return ratio <= max ? { target, measured, status: 'met' } : { target, measured, status: 'missed', gap: over };
}

/** Labels a check as a gate or a goal of issue 19. */
function labelled(kind: 'gate' | 'goal', n: number, check: TargetCheck): TargetCheck {
  return { ...check, target: `${kind} ${n}: ${check.target}` };
}

/** Gate 1: S1 secure ≥ 0.6× B1 req/s with p99 ≤ 1.5× B1's; S1 unsecured ≥ 0.9× B1 req/s. */
export function gate1(mode: VerdictMode, s1: RowFigures, b1: RowFigures): TargetCheck[] {
  const min = ISSUE_19.s1[mode];
  const problem = problemOf({ 'B1 req/s': b1.reqPerSec, 'B1 p99': b1.p99Ms });
  if (problem) return [labelled('gate', 1, { target: `S1 ${mode} ≥ ${min}× B1 req/s`, measured: problem, status: 'not measured' })];
  const checks = [labelled('gate', 1, atLeast(`S1 ${mode} ≥ ${min}× B1 req/s`, s1.reqPerSec / b1.reqPerSec, min))];
  if (mode === 'secure') {
    const max = ISSUE_19.s1.secureP99;
    const p99 = s1.p99Ms / b1.p99Ms;
    checks.push(labelled('gate', 1, atMost(`S1 secure p99 ≤ ${max}× B1 p99`, p99, max, `${(s1.p99Ms - max * b1.p99Ms).toFixed(1)} ms over`, `${x(p99)} (${s1.p99Ms.toFixed(1)} vs ${b1.p99Ms.toFixed(1)} ms)`)));
  }
  return checks;
}

/** Gate 2: S2 secure ≥ 0.7× B2 req/s with CPU per request ≤ 1.6× B2's; S2 unsecured ≥ 0.9× B2 req/s. */
export function gate2(mode: VerdictMode, s2: RowFigures, b2: RowFigures): TargetCheck[] {
  const min = ISSUE_19.s2[mode];
  const problem = problemOf({ 'B2 req/s': b2.reqPerSec, 'B2 CPU ms/req': b2.serverCpuMsPerReq });
  if (problem) return [labelled('gate', 2, { target: `S2 ${mode} ≥ ${min}× B2 req/s`, measured: problem, status: 'not measured' })];
  const checks = [labelled('gate', 2, atLeast(`S2 ${mode} ≥ ${min}× B2 req/s`, s2.reqPerSec / b2.reqPerSec, min))];
  if (mode === 'secure') {
    const max = ISSUE_19.s2.secureCpu;
    const cpu = s2.serverCpuMsPerReq / b2.serverCpuMsPerReq;
    checks.push(
      labelled(
        'gate',
        2,
        atMost(`S2 secure CPU per request ≤ ${max}× B2's`, cpu, max, `${(s2.serverCpuMsPerReq - max * b2.serverCpuMsPerReq).toFixed(2)} CPU ms/req over`, `${x(cpu)} (${s2.serverCpuMsPerReq.toFixed(2)} vs ${b2.serverCpuMsPerReq.toFixed(2)} ms)`),
      ),
    );
  }
  return checks;
}

/** Gate 3: S2p ≥ 3× B3 (GraphQL Mesh) req/s, secure and unsecured. */
export function gate3(mode: VerdictMode, s2p: RowFigures, b3: RowFigures): TargetCheck {
  const min = ISSUE_19.s2pOverB3;
  const target = `S2p ${mode} ≥ ${min}× B3 (GraphQL Mesh) req/s`;
  const problem = problemOf({ 'B3 req/s': b3.reqPerSec });
  if (problem) return labelled('gate', 3, { target, measured: problem, status: 'not measured' });
  return labelled('gate', 3, atLeast(target, s2p.reqPerSec / b3.reqPerSec, min, `${x(s2p.reqPerSec / b3.reqPerSec)}, CPU/req ${x(s2p.serverCpuMsPerReq / b3.serverCpuMsPerReq)}`));
}

/** Gate 4: the durable access log ≥ 0.9× the same hub with the log off (S2 secure vs secure-audit-off). */
export function gate4(withLog: RowFigures, withoutLog: RowFigures): TargetCheck {
  const min = ISSUE_19.audit;
  const target = `durable access log ≥ ${min}× the same hub with the log off (S2 secure vs secure-audit-off)`;
  const problem = problemOf({ 'S2 secure-audit-off req/s': withoutLog.reqPerSec, 'S2 secure-audit-off CPU ms/req': withoutLog.serverCpuMsPerReq });
  if (problem) return labelled('gate', 4, { target, measured: problem, status: 'not measured' });
  const rate = withLog.reqPerSec / withoutLog.reqPerSec;
  return labelled('gate', 4, atLeast(target, rate, min, `${x(rate)} req/s, CPU/req ${x(withLog.serverCpuMsPerReq / withoutLog.serverCpuMsPerReq)}`));
}

/** Goal 5, throughput: S3 unsecured ≥ 0.8× and S3 secure ≥ 0.6× B2-S3 req/s. */
export function goal5Throughput(mode: VerdictMode, s3: RowFigures, b2s3: RowFigures): TargetCheck {
  const min = ISSUE_19.s3[mode];
  const target = `S3 ${mode} ≥ ${min}× B2-S3 req/s`;
  const problem = problemOf({ 'B2-S3 req/s': b2s3.reqPerSec, 'B2-S3 CPU ms/req': b2s3.serverCpuMsPerReq });
  if (problem) return labelled('goal', 5, { target, measured: problem, status: 'not measured' });
  const rate = s3.reqPerSec / b2s3.reqPerSec;
  return labelled('goal', 5, atLeast(target, rate, min, `${x(rate)}, CPU/req ${x(s3.serverCpuMsPerReq / b2s3.serverCpuMsPerReq)}`));
}

/** A least-squares line y = intercept + slope·x and each point's residual relative to the line. */
export interface LinearFit {
  slope: number;
  intercept: number;
  /** (y - fitted) / fitted, per point, in the points' order. */
  relativeResiduals: number[];
  /** The largest |relative residual|. */
  maxRelativeResidual: number;
}

/**
 * Fits y = intercept + slope·x by least squares. Needs at least two points with different x,
 * every coordinate finite, and a line that stays positive at every point (a relative residual
 * against a fitted cost of zero or less means nothing); otherwise throws, naming the problem.
 */
export function linearFit(points: readonly { x: number; y: number }[]): LinearFit {
  if (points.length < 2) throw new Error(`a linear fit needs at least 2 points, but got ${points.length}`);
  for (const p of points) if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) throw new Error(`a linear fit needs finite coordinates, but got (${String(p.x)}, ${String(p.y)})`);
  const n = points.length;
  const meanX = points.reduce((s, p) => s + p.x, 0) / n;
  const meanY = points.reduce((s, p) => s + p.y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    sxx += (p.x - meanX) ** 2;
    sxy += (p.x - meanX) * (p.y - meanY);
  }
  if (!(sxx > 0)) throw new Error('a linear fit needs at least 2 different x values');
  const slope = sxy / sxx;
  const intercept = meanY - slope * meanX;
  const relativeResiduals = points.map((p) => {
    const fitted = intercept + slope * p.x;
    if (!(fitted > 0)) throw new Error(`the fitted line is not positive at x = ${p.x} (${fitted.toFixed(3)}): relative residuals are undefined`);
    return (p.y - fitted) / fitted;
  });
  return { slope, intercept, relativeResiduals, maxRelativeResidual: Math.max(...relativeResiduals.map(Math.abs)) };
}

/** Goal 5, linearity: CPU per request of S3 at several list sizes, a linear fit against persons, every residual within ±20 %. */
export function goal5Linearity(mode: VerdictMode, points: readonly { persons: number; cpuMsPerReq: number }[]): TargetCheck {
  const target = `S3 ${mode} cost linear in persons (CPU ms/req at ${points.map((p) => p.persons).join(', ')} persons; residuals of a linear fit within ±${LINEAR_RESIDUAL_LIMIT * 100} %)`;
  if (points.length < 3) return labelled('goal', 5, { target, measured: `${points.length} of the 3 sizes measured`, status: 'not measured' });
  const empty = points.filter((p) => !(p.cpuMsPerReq > 0) || !Number.isFinite(p.cpuMsPerReq));
  if (empty.length > 0) return labelled('goal', 5, { target, measured: `no CPU per request at ${empty.map((p) => p.persons).join(', ')} persons (no request answered)`, status: 'not measured' });
  let fit: LinearFit;
  try {
    fit = linearFit(points.map((p) => ({ x: p.persons, y: p.cpuMsPerReq })));
  } catch (error) {
    return labelled('goal', 5, { target, measured: error instanceof Error ? error.message : String(error), status: 'not measured' });
  }
  const residuals = fit.relativeResiduals.map((r, i) => `${points[i]!.persons}: ${r >= 0 ? '+' : ''}${(r * 100).toFixed(1)} %`).join(', ');
  const measured = `${fit.intercept.toFixed(2)} + ${fit.slope.toFixed(3)} ms/person; residuals ${residuals}`;
  const met = fit.maxRelativeResidual <= LINEAR_RESIDUAL_LIMIT;
  return labelled('goal', 5, met ? { target, measured, status: 'met' } : { target, measured, status: 'missed', gap: `largest residual ${(fit.maxRelativeResidual * 100).toFixed(1)} %, ${((fit.maxRelativeResidual - LINEAR_RESIDUAL_LIMIT) * 100).toFixed(1)} points over` });
}

/** Goal 6: S4 p50 ≤ B2-S4 p50 + 2 ms. */
export function goal6(mode: VerdictMode, s4: RowFigures, b2s4: RowFigures): TargetCheck {
  const limit = b2s4.p50Ms + ISSUE_19.s4AllowanceMs;
  const target = `S4 ${mode} p50 ≤ B2-S4 p50 + ${ISSUE_19.s4AllowanceMs} ms (${limit.toFixed(1)} ms)`;
  if (!Number.isFinite(s4.p50Ms) || !Number.isFinite(b2s4.p50Ms)) return labelled('goal', 6, { target, measured: `p50 ${String(s4.p50Ms)} vs ${String(b2s4.p50Ms)} ms`, status: 'not measured' });
  const measured = `${s4.p50Ms.toFixed(1)} ms`;
  return labelled('goal', 6, s4.p50Ms <= limit ? { target, measured, status: 'met' } : { target, measured, status: 'missed', gap: `${(s4.p50Ms - limit).toFixed(1)} ms over` });
}

/**
 * Goal 7: the hub's RSS ≤ 250 MB in every row with 100 000 persons (absolute: memory is not noisy).
 * `rows`: the hub rows of the run (key and peak RSS in MiB); `persons`: the run's size.
 */
export function goal7(persons: number, rows: readonly { key: string; rssPeakMiB: number }[]): TargetCheck {
  const target = `hub RSS ≤ ${RSS_LIMIT_MB} MB in every row with ${RSS_PERSONS.toLocaleString('en')} persons`;
  if (persons !== RSS_PERSONS) return labelled('goal', 7, { target, measured: `this run has ${persons} persons`, status: 'not measured' });
  const measuredRows = rows.filter((r) => Number.isFinite(r.rssPeakMiB) && r.rssPeakMiB > 0);
  if (measuredRows.length === 0) return labelled('goal', 7, { target, measured: 'no hub row measured', status: 'not measured' });
  const over = measuredRows.filter((r) => r.rssPeakMiB * MIB_IN_MB > RSS_LIMIT_MB);
  const peak = measuredRows.reduce((a, b) => (b.rssPeakMiB > a.rssPeakMiB ? b : a));
  const measured = `peak ${(peak.rssPeakMiB * MIB_IN_MB).toFixed(0)} MB (${peak.key}) over ${measuredRows.length} rows`;
  if (over.length === 0) return labelled('goal', 7, { target, measured, status: 'met' });
  return labelled('goal', 7, { target, measured, status: 'missed', gap: `over in ${over.map((r) => `${r.key} ${(r.rssPeakMiB * MIB_IN_MB - RSS_LIMIT_MB).toFixed(0)} MB`).join(', ')}` });
}

/**
 * Goal 8: row C, the GraphQL ceiling, is measured, so that each row shows its distance from it.
 * Met when C was measured; `distances` are the rows' req/s as a multiple of C's, shown beside it.
 */
export function goal8(c: RowFigures | undefined, distances: readonly { key: string; reqPerSec: number }[]): TargetCheck {
  const target = 'row C, the GraphQL ceiling (graphql-js execute over a cached document, same schema and data as B1), measured beside the rows';
  if (!c || !(c.reqPerSec > 0)) return labelled('goal', 8, { target, measured: 'row C not measured', status: 'not measured' });
  const shown = distances.map((d) => `${d.key} ${x(d.reqPerSec / c.reqPerSec)}`).join(', ');
  return labelled('goal', 8, { target, measured: `C ${c.reqPerSec.toFixed(0)} req/s, ${c.serverCpuMsPerReq.toFixed(2)} CPU ms/req${shown ? `; of C's req/s: ${shown}` : ''}`, status: 'met' });
}

/** "vs C" for a row: its req/s and CPU per request against the ceiling's. */
export function versusCeiling(row: RowFigures, c: RowFigures): string {
  return `${x(row.reqPerSec / c.reqPerSec)} C req/s, CPU/req ${x(row.serverCpuMsPerReq / c.serverCpuMsPerReq)} C`;
}
