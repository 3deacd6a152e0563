import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the `datarun serve` process's heap grow past the data that survived its last
 * full collection (`memory.heapGrowthPercent`, docs/operations.md "Memory").
 *
 * Left to itself V8 sets the next collection's threshold at up to four times the live data when
 * the program allocates fast, and a hub allocates fast: every request builds its reply, its
 * seals, its record and its receipt, and drops them a few milliseconds later. Under load the
 * hub's heap then held two to four times its live data in garbage (bench/README.md, goal 7). A
 * fixed factor keeps the heap near the live data; the price is more frequent collections.
 *
 * Only the serving process sets it: a program that embeds the hub (the tests, a bench baseline)
 * keeps its own V8 settings. A `--heap-growing-percent` given to node itself wins.
 */

/** What `applyHeapGrowth` did, for the start-up log line. */
export type HeapGrowthOutcome =
  | { readonly heapGrowthPercent: number; readonly source: 'config' }
  | { readonly heapGrowthPercent: 'v8-default'; readonly source: 'config' }
  | { readonly heapGrowthPercent: string; readonly source: 'node-flag' };

/** The process the setting applies to (injected by tests). */
export interface HeapGrowthTarget {
  /** Node's own flags (`process.execArgv`). */
  readonly execArgv: readonly string[];
  /** Sets a V8 flag (`v8.setFlagsFromString`). */
  readonly setFlags: (flags: string) => void;
}

const NODE_FLAG = /^--heap[-_]growing[-_]percent(?:=(.*))?$/;

/** Sets V8's heap growth factor to 1 + percent/100 (0: V8's own heuristics), unless node was started with its own. */
export function applyHeapGrowth(percent: number, target: HeapGrowthTarget = { execArgv: process.execArgv, setFlags: setFlagsFromString }): HeapGrowthOutcome {
  const given = target.execArgv.findIndex((arg) => NODE_FLAG.test(arg));
  if (given >= 0) {
    const value = NODE_FLAG.exec(target.execArgv[given]!)![1] ?? target.execArgv[given + 1] ?? '';
    return { heapGrowthPercent: value, source: 'node-flag' };
  }
  if (!Number.isSafeInteger(percent) || percent < 0) throw new RangeError(`expected memory.heapGrowthPercent to be a non-negative integer, but got: ${String(percent)}`);
  if (percent === 0) return { heapGrowthPercent: 'v8-default', source: 'config' };
  // Read by V8 each time it sets the next collection's threshold, so it holds from the next collection on.
  target.setFlags(`--heap-growing-percent=${percent}`);
  return { heapGrowthPercent: percent, source: 'config' };
}
