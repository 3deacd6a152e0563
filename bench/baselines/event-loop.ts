/**
 * The event-loop delay of a baseline process, served on a listener of its own (so that the
 * measured server's routes stay as they are): `GET /` answers `{"p99Ms":…,"p50Ms":…,"maxMs":…}`
 * since the last read and resets the histogram, as the hub's `/metrics` does for prom-client's
 * `nodejs_eventloop_lag_p99_seconds` (the same `monitorEventLoopDelay`, the same 10 ms resolution,
 * so hub and baselines read alike; the figures include that sampling interval).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** prom-client's default `eventLoopMonitoringPrecision`, which the hub's `/metrics` uses. */
export const EVENT_LOOP_RESOLUTION_MS = 10;

/** Starts the histogram and its listener on loopback; resolves to the listener's URL. */
export function serveEventLoopDelay(): Promise<string> {
  const histogram = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  histogram.enable();
  const server = http.createServer((_req, res) => {
    const ms = (ns: number): number => ns / 1e6;
    const text = JSON.stringify({ p50Ms: ms(histogram.percentile(50)), p99Ms: ms(histogram.percentile(99)), maxMs: ms(histogram.max) });
    histogram.reset();
    res.writeHead(200, { 'content-type': 'application/json' }).end(text);
  });
  // Never keeps the process alive on its own.
  server.unref();
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)));
}
