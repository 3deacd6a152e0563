/** The results of a run: per-row figures, their ratios to the baselines, the targets, the table. */
import { mergeErrorCodes, type ErrorCodes } from './error-codes';
import type { LoadResult } from './load';

/** One measured round of one row. */
export interface RoundResult {
  load: LoadResult;
  rssPeakMiB: number;
  rssMeanMiB: number;
  /** CPU seconds used during the round by the server under test, the department sandboxes, the load generator, and (row F) the peer hub the server asks. */
  cpuSec: { server: number; departments: number; loadGenerator: number; peer?: number };
  /** Calls each HTTP department received per request (real estate has no HTTP counter route). */
  callsPerRequest?: Record<string, number>;
  /** Busy time of each core during the round, in % (from /proc/stat), to tell processes outside the benchmark apart. */
  coreBusyPercent?: number[];
  /** Core 0's busy time not used by the server under test, in % of the core: someone else's work. */
  foreignCore0Percent?: number;
  /** The server's event-loop delay p99 over the round, in ms, when it tells (bench/lib/event-loop.ts). */
  eventLoopP99Ms?: number;
}

/** One row of the table: one server under one scenario. */
export interface RowResult {
  id: string;
  scenario: string;
  server: string;
  mode: string;
  connections: number;
  poolSize: number;
  rounds: RoundResult[];
  summary: RowSummary;
  note?: string;
  /** Rounds run again because they were disturbed by processes outside the benchmark. */
  discardedRounds?: number;
}

/** A row's figures over its rounds. */
export interface RowSummary {
  /** Mean over rounds. */
  reqPerSec: number;
  /** Spread of the rounds' throughput (max - min) / mean, in percent. */
  spreadPercent: number;
  /** Median over rounds of each round's percentile. */
  p50Ms: number;
  p99Ms: number;
  rssPeakMiB: number;
  /** CPU time of the server per successful request. */
  serverCpuMsPerReq: number;
  /** Row F: CPU time of the peer hub (B) per successful request of the server (A). */
  peerCpuMsPerReq?: number;
  /** CPU use of the server during the rounds, in % of one core. */
  serverCpuPercent: number;
  departmentsCpuPercent: number;
  loadGeneratorCpuPercent: number;
  /** Failed requests: non-2xx, socket errors, timeouts, replies with GraphQL errors. */
  failures: number;
  /** The failed replies' error codes, summed over the rounds (lib/error-codes.ts); absent when none was read. */
  errorCodes?: ErrorCodes;
  callsPerRequest?: Record<string, number>;
  /** Largest share of core 0 that processes other than the server under test used in a round. */
  foreignCore0Percent?: number;
  /** Median over the rounds that have one of the server's event-loop delay p99, in ms. */
  eventLoopP99Ms?: number;
}

const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** Summarizes the rounds of a row. */
export function summarize(rounds: RoundResult[]): RowSummary {
  const rates = rounds.map((r) => r.load.reqPerSec);
  const eventLoop = rounds.flatMap((r) => (r.eventLoopP99Ms !== undefined && Number.isFinite(r.eventLoopP99Ms) ? [r.eventLoopP99Ms] : []));
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  const seconds = rounds.reduce((s, r) => s + r.load.durationSec, 0);
  const requests = rounds.reduce((s, r) => s + r.load.requests, 0);
  const cpu = (k: keyof RoundResult['cpuSec']): number => rounds.reduce((s, r) => s + (r.cpuSec[k] ?? 0), 0);
  const errorCodes = mergeErrorCodes(rounds.map((r) => r.load.errorCodes));
  let callsPerRequest: Record<string, number> | undefined;
  const withCalls = rounds.filter((r) => r.callsPerRequest);
  if (withCalls.length > 0) {
    callsPerRequest = {};
    for (const key of Object.keys(withCalls[0]!.callsPerRequest!)) {
      callsPerRequest[key] = withCalls.reduce((s, r) => s + r.callsPerRequest![key]!, 0) / withCalls.length;
    }
  }
  return {
    reqPerSec: mean,
    spreadPercent: mean > 0 ? (100 * (Math.max(...rates) - Math.min(...rates))) / mean : 0,
    p50Ms: median(rounds.map((r) => r.load.latencyMs.p50)),
    p99Ms: median(rounds.map((r) => r.load.latencyMs.p99)),
    rssPeakMiB: Math.max(...rounds.map((r) => r.rssPeakMiB)),
    serverCpuMsPerReq: requests > 0 ? (1000 * cpu('server')) / requests : 0,
    ...(rounds.some((r) => r.cpuSec.peer !== undefined) ? { peerCpuMsPerReq: requests > 0 ? (1000 * cpu('peer')) / requests : 0 } : {}),
    serverCpuPercent: (100 * cpu('server')) / seconds,
    departmentsCpuPercent: (100 * cpu('departments')) / seconds,
    loadGeneratorCpuPercent: (100 * cpu('loadGenerator')) / seconds,
    failures: rounds.reduce((s, r) => s + r.load.non2xx + r.load.errors + r.load.timeouts + r.load.graphqlErrors, 0),
    ...(callsPerRequest ? { callsPerRequest } : {}),
    ...(Object.keys(errorCodes).length > 0 ? { errorCodes } : {}),
    ...(rounds.some((r) => r.foreignCore0Percent !== undefined) ? { foreignCore0Percent: Math.max(...rounds.map((r) => r.foreignCore0Percent ?? 0)) } : {}),
    ...(eventLoop.length > 0 ? { eventLoopP99Ms: median(eventLoop) } : {}),
  };
}

/** One target of the issue, checked on this run's figures. */
export interface TargetCheck {
  target: string;
  measured: string;
  status: 'met' | 'missed' | 'not measured';
  /** How far from the target, when missed (e.g. "needs 3.1× the throughput"). */
  gap?: string;
}

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '—');

/** Renders the table (fixed-width text, one line per row; "ELD p99": the server's event-loop delay p99 in ms, "–" when it does not tell). */
export function formatTable(rows: RowResult[], ratios: Map<string, string>): string {
  const header = ['row', 'scenario', 'server', 'mode', 'conn', 'req/s', '±%', 'p50 ms', 'p99 ms', 'RSS MiB', 'CPU ms/req', 'ELD p99', 'srv CPU', 'dept CPU', 'gen CPU', 'fail', 'vs baseline'];
  const lines = rows.map((r) => [
    r.id,
    r.scenario,
    r.server,
    r.mode,
    String(r.connections),
    fmt(r.summary.reqPerSec),
    fmt(r.summary.spreadPercent),
    fmt(r.summary.p50Ms, 1),
    fmt(r.summary.p99Ms, 1),
    fmt(r.summary.rssPeakMiB),
    fmt(r.summary.serverCpuMsPerReq, 2),
    r.summary.eventLoopP99Ms === undefined ? '–' : fmt(r.summary.eventLoopP99Ms, 1),
    `${fmt(r.summary.serverCpuPercent)}%${(r.summary.foreignCore0Percent ?? 0) >= 10 ? '!' : ''}`,
    `${fmt(r.summary.departmentsCpuPercent)}%`,
    `${fmt(r.summary.loadGeneratorCpuPercent)}%`,
    String(r.summary.failures),
    ratios.get(r.mode === '-' ? r.id : `${r.id}/${r.mode}`) ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const right = new Set([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  const render = (cells: string[]): string => cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [render(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(render)].join('\n');
}

/** Renders the target checks. */
export function formatTargets(checks: TargetCheck[]): string {
  return checks
    .map((c) => `  [${c.status === 'met' ? 'met' : c.status === 'missed' ? 'MISSED' : 'n/a'}] ${c.target}: ${c.measured}${c.gap ? ` (${c.gap})` : ''}`)
    .join('\n');
}
