/**
 * The event-loop delay p99 of the server under test over one round. The hub exposes prom-client's
 * `nodejs_eventloop_lag_p99_seconds` on its operator listener's `/metrics` (a `monitorEventLoopDelay`
 * histogram, 10 ms resolution, reset at every scrape); the baselines B1, B2, B2-S3 and C serve the
 * same histogram on a listener of their own (bench/baselines/event-loop.ts). A round reads it once
 * before (which resets it) and once after. B3 (Mesh) and the rows E, Ew and F have no probe: "–".
 */

/** Reads a server's event-loop delay: `reset()` before a round, `p99Ms()` after it. */
export interface EventLoopProbe {
  reset(): Promise<void>;
  /** The p99 since the last read, in ms; undefined when the server did not tell. */
  p99Ms(): Promise<number | undefined>;
}

/** The p99 of prom-client's event-loop lag in a `/metrics` exposition, in ms; undefined when absent or not a number. */
export function eventLoopP99FromMetrics(text: string): number | undefined {
  const match = /^nodejs_eventloop_lag_p99_seconds(?:\{[^}]*\})?\s+(\S+)/m.exec(text);
  if (!match) return undefined;
  const seconds = Number(match[1]);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

async function text(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

/** The hub's probe: its operator listener's `/metrics`. */
export function hubEventLoop(operatorUrl: string): EventLoopProbe {
  const url = new URL('/metrics', operatorUrl).href;
  return {
    reset: async () => void (await text(url)),
    p99Ms: async () => {
      const body = await text(url);
      return body === undefined ? undefined : eventLoopP99FromMetrics(body);
    },
  };
}

/** A baseline's probe: its event-loop listener (`{"p99Ms":…}`). */
export function baselineEventLoop(url: string): EventLoopProbe {
  return {
    reset: async () => void (await text(url)),
    p99Ms: async () => {
      const body = await text(url);
      if (body === undefined) return undefined;
      try {
        const p99 = (JSON.parse(body) as { p99Ms?: unknown }).p99Ms;
        return typeof p99 === 'number' && Number.isFinite(p99) ? p99 : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
