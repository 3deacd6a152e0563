/**
 * The load generator: one child process running autocannon's programmatic API against one URL,
 * so that it can be pinned to its own core apart from the server under test. It reads its job
 * (a JSON file named by argv[2]) and prints one JSON line with the result.
 *
 * Request bodies rotate through a pool shared by all connections, so consecutive requests ask for
 * different records (cold caches); a reply is counted as failed when its status is not 2xx or
 * its body holds a GraphQL `"errors"` member.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { createRequestSigner, type PrivateJwk } from '../src/seal';
import { countCodes, errorCodesOf, type ErrorCodes } from './lib/error-codes';
import type { SigningSpec } from './lib/security';

/** What the runner asks of one load run. */
export interface LoadJob {
  url: string;
  connections: number;
  durationSec: number;
  /** JSON bodies to POST, in rotation. */
  bodies: string[];
  headers?: Record<string, string>;
  /** Extra headers per body (same index as `bodies`), e.g. a signature bound to that body. */
  bodyHeaders?: Record<string, string>[];
  /** Per-request timeout in seconds. */
  timeoutSec?: number;
  /** Requests per second offered over all connections (autocannon's overallRate); unset: as fast as the server answers. */
  overallRate?: number;
  /**
   * Secure mode: every request gets its own `Authorization: DatarunRequest <JWS>` (one-time jti,
   * bound to the body hash), signed here as it is sent; the signing time shows in `cpuSec`.
   */
  signing?: SigningSpec;
}

/** What one load run measured. */
export interface LoadResult {
  requests: number;
  durationSec: number;
  reqPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  /** 2xx replies whose body holds GraphQL errors (a reply of another status counts in `non2xx`). */
  graphqlErrors: number;
  /** Failed replies by the codes of their errors (lib/error-codes.ts); absent in results written before it. */
  errorCodes?: ErrorCodes;
  /** CPU seconds the load generator itself used. */
  cpuSec: number;
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadJob;
  if (job.bodies.length === 0) throw new Error('the job has no request bodies');
  let next = 0;
  let graphqlErrors = 0;
  const errorCodes: ErrorCodes = {};
  const signing = job.signing;
  const signer = signing ? createRequestSigner({ consumerId: signing.consumerId, privateJwk: JSON.parse(readFileSync(signing.keyFile, 'utf8')) as PrivateJwk, ...(signing.audience ? { audience: signing.audience } : {}) }) : undefined;
  const cpuBefore = process.cpuUsage();
  const instance = autocannon({
    url: job.url,
    connections: job.connections,
    duration: job.durationSec,
    timeout: job.timeoutSec ?? 10,
    ...(job.overallRate !== undefined ? { overallRate: job.overallRate } : {}),
    method: 'POST',
    headers: { 'content-type': 'application/json', ...job.headers },
    requests: [
      {
        setupRequest: (req: Record<string, unknown>) => {
          const requestBody = job.bodies[next]!;
          req.body = requestBody;
          const extra = job.bodyHeaders?.[next % job.bodyHeaders.length];
          if (extra || signer) {
            req.headers = {
              ...(req.headers as Record<string, string>),
              ...extra,
              ...(signer ? { authorization: signer.authorization(requestBody, signing!.context) } : {}),
            };
          }
          next = next + 1 === job.bodies.length ? 0 : next + 1;
          return req;
        },
        onResponse: (status: number, body: string) => {
          // Replies are small JSON documents; a top-level "errors" member means a failed or partial answer.
          if (body.includes('"errors":')) {
            if (status >= 200 && status < 300) graphqlErrors++;
            countCodes(errorCodes, errorCodesOf(body));
          }
        },
      },
    ],
  });
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    instance.on('done', resolve);
    instance.on('error', reject);
  });
  const cpu = process.cpuUsage(cpuBefore);
  const ok = result['2xx'];
  const out: LoadResult = {
    requests: ok,
    durationSec: result.duration,
    reqPerSec: ok / result.duration,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, mean: result.latency.average, max: result.latency.max },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    graphqlErrors,
    errorCodes,
    cpuSec: (cpu.user + cpu.system) / 1e6,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`load worker: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
