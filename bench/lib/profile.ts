/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`): self time by file (dependencies grouped by
 * package, the project's own files by path) and the top functions, over the whole profile or a
 * window of it (the samples between two instants of the monotonic clock: a profile's `startTime`
 * and `process.hrtime` both read it, in µs and ns), so that a summary "under load" leaves out the
 * process's start-up (the module loader, the schema build) and its shutdown. Also a command:
 * `node dist/bench/lib/profile.js <file.cpuprofile> [top]`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
/** The parts of a `.cpuprofile` the summary reads. */
export interface CpuProfile {
  nodes: ProfileNode[];
  /** When profiling began: the monotonic clock, in µs. */
  startTime?: number;
  samples: number[];
  timeDeltas: number[];
}

/** Which samples count: those taken from `fromUs` up to `toUs` (monotonic clock, µs, as `process.hrtime.bigint() / 1000n`). */
export interface ProfileWindow {
  fromUs?: number;
  toUs?: number;
}

/** The monotonic clock now, in µs: the bound of a profile window. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** One line of the summary. */
export interface ProfileEntry {
  name: string;
  selfMs: number;
  percent: number;
}

/** Self time by file and by function, largest first. */
export interface ProfileSummary {
  totalMs: number;
  /** Share of the samples that were idle (the event loop waiting): what the process did not use of its core. */
  idlePercent: number;
  byFile: ProfileEntry[];
  byFunction: ProfileEntry[];
  /** Every file's share of the busy time, in percent (not cut to the top entries). */
  fileShares: Record<string, number>;
}

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** A short name for where a function lives: `pkg:<package>`, a project path, `node:<module>` or a V8 pseudo-frame. */
export function fileOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  let file = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
  if (file.startsWith('node:')) return file;
  const nm = file.lastIndexOf(`${path.sep}node_modules${path.sep}`);
  if (nm >= 0) {
    const rest = file.slice(nm + '/node_modules/'.length).split(path.sep);
    return `pkg:${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (file.startsWith(ROOT)) file = path.relative(ROOT, file);
  return file;
}

/** The share of busy time (percent) spent in the files `match` accepts. */
export function shareOf(summary: ProfileSummary, match: (file: string) => boolean): number {
  return Object.entries(summary.fileShares).reduce((sum, [file, percent]) => (match(file) ? sum + percent : sum), 0);
}

/** Summarizes a parsed profile, or the samples of `window` only (a profile without `startTime` is summarized whole). */
export function summarizeProfile(profile: CpuProfile, top = 15, window: ProfileWindow = {}): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const from = profile.startTime === undefined ? -Infinity : (window.fromUs ?? -Infinity);
  const to = profile.startTime === undefined ? Infinity : (window.toUs ?? Infinity);
  // A sample's delta is the time since the one before: it stands for the interval that ends at its own timestamp.
  let at = profile.startTime ?? 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < from || at > to) continue;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  let total = 0;
  let idle = 0;
  const files = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    const file = fileOf(url, functionName);
    files.set(file, (files.get(file) ?? 0) + us);
    const fn = `${functionName || '(anonymous)'} ${file}${url ? `:${lineNumber + 1}` : ''}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
  }
  const busy = total - idle;
  const entries = (m: Map<string, number>): ProfileEntry[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfMs: us / 1000, percent: busy > 0 ? (100 * us) / busy : 0 }));
  const fileShares: Record<string, number> = {};
  for (const [file, us] of files) fileShares[file] = busy > 0 ? (100 * us) / busy : 0;
  return { totalMs: total / 1000, idlePercent: total > 0 ? (100 * idle) / total : 0, byFile: entries(files), byFunction: entries(functions), fileShares };
}

/** Reads and summarizes a `.cpuprofile` file, or the samples of `window` only. */
export function summarizeProfileFile(file: string, top = 15, window: ProfileWindow = {}): ProfileSummary {
  return summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, top, window);
}

/** The summary as text (percentages of the busy, non-idle time). */
export function formatProfile(summary: ProfileSummary): string {
  const lines = [`CPU profile: ${(summary.totalMs / 1000).toFixed(1)} s sampled, ${summary.idlePercent.toFixed(0)} % idle; self time as % of busy time`, '  by file / package:'];
  for (const e of summary.byFile) lines.push(`    ${e.percent.toFixed(1).padStart(5)} %  ${e.name}`);
  lines.push('  top functions:');
  for (const e of summary.byFunction) lines.push(`    ${e.percent.toFixed(1).padStart(5)} %  ${e.name}`);
  return lines.join('\n');
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node dist/bench/lib/profile.js <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${formatProfile(summarizeProfileFile(file, Number(process.argv[3] ?? 20)))}\n`);
}
