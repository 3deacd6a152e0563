/**
 * What operators see of a running gateway: its Prometheus metrics (one registry per gateway, so
 * that several hubs in one process keep theirs apart), one structured log line per request, and
 * one line when a department starts failing or recovers.
 *
 * Label values are bounded and never personal data: consumer ids of the trust list, purpose codes
 * of the policy, error codes of the registry, connector ids, stage names. A caller the trust list
 * does not know (or not authenticated) and a purpose the policy does not know share the value `-`.
 */
import { createHash } from 'node:crypto';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { errorInfo, HubErrorCode, isErrorCode, type ConnectorCache, type LoaderCache } from '../sdk';
import { outcomeOf } from './pipeline/stages/record';
import type { PipelineObserver } from './pipeline';
import type { LoaderCachesObserver } from '../state';

/** The label value of a caller or purpose the hub does not know. */
export const UNKNOWN_LABEL = '-';

/** The codes that mean a department failed (down, too slow, or answering outside its contract); others are the caller's. */
const DEPARTMENT_FAILURES: ReadonlySet<string> = new Set([HubErrorCode.CONNECTOR_UNAVAILABLE, HubErrorCode.CONNECTOR_TIMEOUT, HubErrorCode.UPSTREAM_INVALID_RESPONSE]);

/** The hub's log as the gateway uses it: pino's methods, structured details first. */
export interface HubLogger {
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
  /** Whether lines of this level are written (pino's): the request line is not even built when they are not. */
  isLevelEnabled?(level: string): boolean;
}

/** What the metrics read from the gateway when scraped or labelling. */
export interface HubMetricsOptions {
  /** The consumer ids of the trust list (a label value only if it is one). */
  isConsumer(id: string): boolean;
  /** The purpose codes of the sharing policy. */
  isPurpose(code: string): boolean;
  /** The newest signed tree head's time (ms since the epoch), for the unsigned window; undefined without an access log. */
  lastSignedHeadMs?(): number | undefined;
  /** Whether the shared state answers; undefined when it is in memory (no Redis). */
  redisUp?(): boolean | undefined;
  /** Where the request lines and department transitions go. @default nowhere */
  logger?: Partial<HubLogger>;
  /** Node's process metrics (CPU, memory, event loop, GC) in the same registry. @default true */
  processMetrics?: boolean;
}

/** A gateway's metrics and operations log. */
export interface HubMetrics {
  readonly registry: Registry;
  readonly observer: PipelineObserver;
  /** What the record cache reports to: hits, misses, and every department call it makes. */
  readonly loaderObserver: LoaderCachesObserver;
  /**
   * A connector's record cache for one request: the cache itself when the hub caches that connector
   * (it reports to `loaderObserver`), or a pass-through that calls the department for every key, so
   * that every department call is seen.
   */
  connectorCache(connectorId: string, signal: AbortSignal, cache: ConnectorCache | undefined): ConnectorCache;
  /** One fdatasync of the access log took this many seconds. */
  auditDatasync(seconds: number): void;
  /** The text exposition of every metric, and its content type. */
  scrape(): Promise<{ contentType: string; text: string }>;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const STAGE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200];

/** A code as a label value: a code of the registry, or OTHER. */
function codeLabel(code: unknown): string {
  return isErrorCode(code) ? code : 'OTHER';
}

function codeOfError(error: unknown): string {
  return codeLabel((error as { code?: unknown } | undefined)?.code ?? HubErrorCode.INTERNAL_SERVER_ERROR);
}

export function createHubMetrics(options: HubMetricsOptions): HubMetrics {
  const registry = new Registry();
  const logger = options.logger ?? {};
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const consumerLabel = (id: string | undefined): string => (id !== undefined && options.isConsumer(id) ? id : UNKNOWN_LABEL);
  const purposeLabel = (code: string | undefined): string => (code !== undefined && options.isPurpose(code) ? code : UNKNOWN_LABEL);
  const registers = [registry];

  const requests = new Counter({ name: 'datarun_requests_total', help: 'Requests by consumer, purpose, outcome (granted, partial, denied, failed) and code (the refusal code, else the first field error code, else OK).', labelNames: ['consumer', 'purpose', 'outcome', 'code'], registers });
  const requestSeconds = new Histogram({ name: 'datarun_request_duration_seconds', help: 'Time from a request reaching the pipeline to its reply, by outcome.', labelNames: ['outcome'], buckets: LATENCY_BUCKETS, registers });
  const stageSeconds = new Histogram({ name: 'datarun_stage_duration_seconds', help: 'Time spent in each stage of the request pipeline.', labelNames: ['stage'], buckets: STAGE_BUCKETS, registers });
  const callSeconds = new Histogram({ name: 'datarun_department_call_duration_seconds', help: 'Time of each batch call to a department, by connector and result (ok, error).', labelNames: ['connector', 'result'], buckets: LATENCY_BUCKETS, registers });
  const callErrors = new Counter({ name: 'datarun_department_call_errors_total', help: 'Failed batch calls to a department, by connector and error code.', labelNames: ['connector', 'code'], registers });
  const callTimeouts = new Counter({ name: 'datarun_department_call_timeouts_total', help: 'Batch calls to a department cut by the connector timeout or the request deadline.', labelNames: ['connector'], registers });
  const batchSize = new Histogram({ name: 'datarun_department_batch_size', help: 'Keys asked of a department in one batch call.', labelNames: ['connector'], buckets: BATCH_BUCKETS, registers });
  const departmentUp = new Gauge({ name: 'datarun_department_up', help: '1 while the last call to the department succeeded, 0 once one failed (until one succeeds).', labelNames: ['connector'], registers });
  const cacheHits = new Counter({ name: 'datarun_record_cache_hits_total', help: 'Keys a loader found in the record cache (or in a call another request had in flight), by connector.', labelNames: ['connector'], registers });
  const cacheMisses = new Counter({ name: 'datarun_record_cache_misses_total', help: 'Keys a loader had to ask the department for, by connector (only connectors the record cache holds).', labelNames: ['connector'], registers });
  const appendSeconds = new Histogram({ name: 'datarun_audit_append_duration_seconds', help: 'Time of one access-record append, until it is durable.', buckets: LATENCY_BUCKETS, registers });
  const datasyncSeconds = new Histogram({ name: 'datarun_audit_fsync_duration_seconds', help: 'Time of one fdatasync of the access log\'s segment file.', buckets: LATENCY_BUCKETS, registers });
  new Gauge({
    name: 'datarun_audit_unsigned_window_seconds',
    help: 'Seconds since the access log\'s newest signed tree head.',
    registers,
    collect() {
      const at = options.lastSignedHeadMs?.();
      if (at !== undefined) this.set(Math.max(0, (Date.now() - at) / 1000));
    },
  });
  const seals = new Counter({ name: 'datarun_seals_total', help: 'Record seals presented in replies.', registers });
  const receipts = new Counter({ name: 'datarun_receipts_total', help: 'Receipts signed (one per request that ran).', registers });
  const refusals = new Counter({ name: 'datarun_guard_refusals_total', help: 'Requests refused by the rate limit (rate-limit) or the replay guard (replay: REPLAYED, REPLAY_STATE_RESET, REPLAY_GUARD_UNAVAILABLE), by guard and reason.', labelNames: ['guard', 'reason'], registers });
  new Gauge({
    name: 'datarun_redis_up',
    help: '1 while the shared state in Redis answers, 0 while it does not (absent when the state is in memory).',
    registers,
    collect() {
      const up = options.redisUp?.();
      if (up !== undefined) this.set(up ? 1 : 0);
    },
  });
  refusals.inc({ guard: 'rate-limit', reason: HubErrorCode.RATE_LIMITED }, 0);

  /** Whether the request line is written (pino's level can change while the hub runs). */
  const logsRequests = (): boolean => Boolean(logger.info) && (!logger.isLevelEnabled || logger.isLevelEnabled('info'));
  /** The connectors each request's loaders asked, by the request's signal. */
  const asked = new WeakMap<AbortSignal, Set<string>>();
  /** Departments whose last call failed: since when, and why. */
  const failing = new Map<string, { since: number; code: string }>();

  function departmentSucceeded(connector: string): void {
    departmentUp.set({ connector }, 1);
    const down = failing.get(connector);
    if (!down) return;
    failing.delete(connector);
    logger.info?.({ connector, downMs: Date.now() - down.since, lastCode: down.code }, 'department recovered');
  }

  function departmentFailed(connector: string, code: string): void {
    departmentUp.set({ connector }, 0);
    if (failing.has(connector)) return;
    failing.set(connector, { since: Date.now(), code });
    logger.warn?.({ connector, code }, 'department failing');
  }

  /** One department call, timed and counted, and the department's state updated. */
  async function departmentCall<V>(connector: string, signal: AbortSignal, keys: readonly string[], fetchMissing: (keys: readonly string[]) => Promise<ReadonlyMap<string, V>>): Promise<ReadonlyMap<string, V>> {
    child(batchSize, { connector }).observe(keys.length);
    const started = performance.now();
    try {
      const found = await fetchMissing(keys);
      child(callSeconds, { connector, result: 'ok' }).observe((performance.now() - started) / 1000);
      departmentSucceeded(connector);
      return found;
    } catch (error) {
      callSeconds.observe({ connector, result: 'error' }, (performance.now() - started) / 1000);
      const code = codeOfError(error);
      callErrors.inc({ connector, code });
      if (code === HubErrorCode.CONNECTOR_TIMEOUT) callTimeouts.inc({ connector });
      // A call cut because its client went away says nothing about the department.
      const clientGone = signal.aborted && code !== HubErrorCode.CONNECTOR_TIMEOUT;
      if (DEPARTMENT_FAILURES.has(code) && !clientGone) departmentFailed(connector, code);
      throw error;
    }
  }

  /** A loader of a connector the hub does not cache: one department call for every key, as createBatchLoader makes without a cache. */
  function uncachedLoader(connector: string, signal: AbortSignal): LoaderCache {
    return {
      async readThrough<V>(keys: readonly string[], fetchMissing: (keys: readonly string[]) => Promise<ReadonlyMap<string, V>>) {
        try {
          const found = await departmentCall(connector, signal, keys, fetchMissing);
          return new Map(keys.map((key) => [key, found.get(key) ?? null]));
        } catch (error) {
          const failure = error instanceof Error ? error : new Error(String(error));
          return new Map(keys.map((key) => [key, failure]));
        }
      },
    };
  }

  // Label children looked up once per label set: the hot path then hashes no labels (a cache-warm
  // request costs a few tens of microseconds in all, so a few per metric would show).
  const stageChildren = new Map<string, { observe(value: number): void }>();
  type Bound = { inc(value?: number): void; observe(value: number): void };
  const children = new Map<Counter<string> | Histogram<string>, Map<string, Bound>>();
  function child(metric: Counter<string> | Histogram<string>, labels: Record<string, string>): Bound {
    let ofMetric = children.get(metric);
    if (!ofMetric) children.set(metric, (ofMetric = new Map()));
    const key = Object.values(labels).join('\u0000');
    let found = ofMetric.get(key);
    if (!found) {
      const bound = (metric as Counter<string>).labels(labels) as unknown as { inc?(value?: number): void; observe?(value: number): void };
      found = { inc: (value?: number) => bound.inc!(value), observe: (value: number) => bound.observe!(value) };
      ofMetric.set(key, found);
    }
    return found;
  }
  const observer: PipelineObserver = {
    stage(name, seconds) {
      let child = stageChildren.get(name);
      if (!child) stageChildren.set(name, (child = stageSeconds.labels({ stage: name })));
      child.observe(seconds);
      // The record stage is the append until durable: its time is the access log's append latency
      // (measured here rather than by wrapping the log, which cost the cache-warm path a sixth of its throughput).
      if (name === 'record') appendSeconds.observe(seconds);
    },
    request(flow, reply, seconds) {
      const { outcome: recorded, codes } = outcomeOf(reply.code, reply.body);
      const outcome = recorded.toLowerCase();
      const code = codeLabel(reply.code ?? codes[0] ?? 'OK');
      const consumer = consumerLabel(flow.caller?.consumer);
      const purpose = purposeLabel(flow.caller?.purpose);
      child(requests, { consumer, purpose, outcome, code: reply.code === null && codes.length === 0 ? 'OK' : code }).inc();
      child(requestSeconds, { outcome }).observe(seconds);
      if (reply.code === HubErrorCode.RATE_LIMITED) refusals.inc({ guard: 'rate-limit', reason: HubErrorCode.RATE_LIMITED });
      else if (reply.code === HubErrorCode.REPLAY_GUARD_UNAVAILABLE) refusals.inc({ guard: 'replay', reason: HubErrorCode.REPLAY_GUARD_UNAVAILABLE });
      else if (reply.code === HubErrorCode.UNAUTHENTICATED) {
        const reason = (reply.body.errors?.[0] as { extensions?: { reason?: unknown } } | undefined)?.extensions?.reason;
        if (reason === 'REPLAYED' || reason === 'REPLAY_STATE_RESET') refusals.inc({ guard: 'replay', reason });
      }
      if (reply.code === null) {
        const sealed = flow.context?.seals.pending.length ?? 0;
        if (sealed > 0) seals.inc(sealed);
        if (reply.body.extensions?.receipt !== undefined) receipts.inc();
      }
      // The request line is built only when it is written (a hub logging at warn pays nothing for it).
      if (!logsRequests()) return;
      const departments = [...(asked.get(flow.signal) ?? [])].sort();
      const query = flow.body?.query;
      logger.info?.(
        {
          requestId: flow.requestId,
          consumer,
          purpose,
          outcome,
          code: reply.code ?? (codes.length > 0 ? code : null),
          status: reply.code === null ? 200 : errorInfo(reply.code).httpStatus,
          durationMs: Math.round(seconds * 1e4) / 10,
          departments,
          // The operation's name (a GraphQL Name) and the SHA-256 of its text: never the text or the variables.
          ...(flow.operation?.name ? { operation: flow.operation.name.value.slice(0, 64) } : {}),
          ...(query !== undefined ? { queryHash: createHash('sha256').update(query).digest('hex') } : {}),
        },
        'request',
      );
    },
  };

  return {
    registry,
    observer,
    loaderObserver: {
      lookups(connector, hits, misses) {
        if (hits > 0) child(cacheHits, { connector }).inc(hits);
        if (misses > 0) child(cacheMisses, { connector }).inc(misses);
      },
      call: departmentCall,
    },
    connectorCache(connectorId, signal, cache) {
      // Which departments a request asked matters only to its log line: not tracked when that is not written
      // (a weak map entry per request is work for the garbage collector on the hottest path).
      if (logsRequests()) {
        let set = asked.get(signal);
        if (!set) asked.set(signal, (set = new Set()));
        set.add(connectorId);
      }
      if (cache) return cache;
      const loaders = new Map<string, LoaderCache>();
      return {
        loader(name) {
          let loader = loaders.get(name);
          if (!loader) loaders.set(name, (loader = uncachedLoader(connectorId, signal)));
          return loader;
        },
      };
    },
    auditDatasync(seconds) {
      datasyncSeconds.observe(seconds);
    },
    async scrape() {
      return { contentType: registry.contentType, text: await registry.metrics() };
    },
  };
}
