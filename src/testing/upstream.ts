/**
 * What the conformance kit asks of a connector's upstream: inject a fault, count the calls it
 * received, reset, close. The kit's three helpers (scripted HTTP, recorded HTTP, TCP fault proxy)
 * implement it; so can a test's own adapter over a department's fault controls.
 */
import { ConnectorDefinitionError } from '../sdk';

/** The faults an upstream can inject. */
export const FAULT_MODES = ['none', 'down', 'slow', 'error', 'malformed', 'reset'] as const;

/**
 * One fault mode: `down` drops connections; `slow` delays every reply by `delayMs`; `error`
 * answers with the protocol's error (HTTP 503, a SOAP fault, an SQL error); `malformed` answers
 * garbage in place of the reply; `reset` cuts the connection in the middle of a reply.
 */
export type FaultMode = (typeof FAULT_MODES)[number];

/** A fault to inject. */
export interface UpstreamFault {
  readonly mode: FaultMode;
  /** Delay of the `slow` mode, in milliseconds. @default 30000 */
  readonly delayMs?: number;
}

/** The default delay of the `slow` mode: far beyond any timeout a conformance test sets. */
export const DEFAULT_SLOW_MS = 30_000;

/** An upstream the conformance kit can drive. */
export interface ConformanceUpstream {
  /** Injects a fault (replacing the previous one); `{ mode: 'none' }` heals it. */
  setFault(fault: UpstreamFault): void | Promise<void>;
  /** Calls received since the last reset (requests, statements or connections: the upstream says which). */
  calls(): number | Promise<number>;
  /** No fault, counters at zero. */
  reset(): void | Promise<void>;
  /** Stops it; pending delayed replies are dropped. */
  close(): Promise<void>;
  /** The modes it can inject. @default every mode but `reset` */
  readonly faults?: readonly FaultMode[];
}

/** Checks a fault given to a helper and returns it with its delay filled in. */
export function checkFault(fault: UpstreamFault, supported: readonly FaultMode[], helper: string): Required<UpstreamFault> {
  if (!fault || typeof fault !== 'object' || !(FAULT_MODES as readonly string[]).includes(fault.mode)) {
    throw new ConnectorDefinitionError(`${helper}: fault mode must be one of ${FAULT_MODES.join(', ')}, but got: ${JSON.stringify(fault?.mode)}`);
  }
  if (!supported.includes(fault.mode)) throw new ConnectorDefinitionError(`${helper}: cannot inject the fault "${fault.mode}" (it can: ${supported.join(', ')})`);
  const delayMs = fault.delayMs ?? DEFAULT_SLOW_MS;
  if (!Number.isFinite(delayMs) || delayMs < 0) throw new ConnectorDefinitionError(`${helper}: delayMs must be a non-negative number of milliseconds, but got: ${String(fault.delayMs)}`);
  return { mode: fault.mode, delayMs };
}

/** Timers of delayed replies, dropped together when the upstream closes. */
export class DelayedReplies {
  private readonly timers = new Set<NodeJS.Timeout>();

  after(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  clear(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
