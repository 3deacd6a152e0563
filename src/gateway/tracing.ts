/**
 * OpenTelemetry tracing of the hub (docs/tracing.md): one server span per request (its parent
 * the caller's W3C `traceparent`, when it sent one), one span per pipeline stage, and, through the
 * SDK (src/sdk/tracing.ts), one client span per department call, exported over OTLP/HTTP (JSON).
 *
 * Each gateway has its own tracer provider, so that several hubs in one process do not share
 * spans or shut each other's exporter down; the provider is flushed and shut down when the
 * gateway stops. Without an endpoint nothing of this exists: the OpenTelemetry SDK is not even
 * loaded, the pipeline gets no tracing and runs its stages as they are.
 *
 * Spans carry consumer ids, purpose codes, stage names, connector ids, operation names, counts and
 * error codes; never variables, identifiers of persons, names or the query text.
 */
import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
// Types only: the packages themselves are loaded by startTracing, when an endpoint is configured.
import type * as ContextAsyncHooks from '@opentelemetry/context-async-hooks';
import type * as OtlpHttpExporter from '@opentelemetry/exporter-trace-otlp-http';
import type * as Resources from '@opentelemetry/resources';
import type * as SdkTraceBase from '@opentelemetry/sdk-trace-base';
import { HubError, parseTraceparent, registerTracingGateway, withHubTracer, type ErrorCode } from '../sdk';

/** The `tracing` part of the configuration. */
export interface TracingSettings {
  /** OTLP/HTTP collector: its base URL (`/v1/traces` is added) or the full traces URL. Absent: tracing off. */
  readonly otlpEndpoint?: string | undefined;
  /** `service.name` of the spans. */
  readonly serviceName: string;
  /** Share of the requests without a caller's sampling decision that are sampled (0..1); a caller's decision is followed. */
  readonly sampleRatio: number;
}

/** Defaults of the tracing settings. */
export const DEFAULT_TRACING = Object.freeze({ serviceName: 'datarun-hub', sampleRatio: 1 });

/** The trace context a request arrived with (the adapter's `traceparent` and `tracestate` headers). */
export interface IncomingTraceContext {
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
}

/** What the request pipeline sees of tracing: request spans, stage spans, request attributes. */
export interface RequestTracing {
  /** Runs one request in its server span; `run`'s reply code becomes the span's outcome. */
  request<R extends { readonly code: ErrorCode | null }>(incoming: IncomingTraceContext, run: () => Promise<R>): Promise<R>;
  /**
   * The stage `fn` in its own span, a child of the request span and the parent of what the stage
   * calls (department calls under `execute`). The wrapper keeps `fn`'s own properties (caches).
   */
  stage<F extends (...args: never[]) => unknown>(name: string, fn: F): F;
  /** Adds the request's caller and operation type to the request span, once the stages ran. */
  annotate(details: { readonly consumer?: string | undefined; readonly purpose?: string | undefined; readonly operationType?: string | undefined }): void;
}

/** A gateway's tracing: the pipeline's part, flushing, and shutdown. */
export interface GatewayTracing extends RequestTracing {
  /** The traces URL spans are exported to. */
  readonly endpoint: string;
  /** Exports every ended span now. */
  flush(): Promise<void>;
  /** Flushes and stops the exporter; the tracer records nothing afterwards. */
  shutdown(): Promise<void>;
}

/** The pipeline without tracing: the stage itself, no wrapper. */
export function untracedStage<F extends (...args: never[]) => unknown>(_name: string, fn: F): F {
  return fn;
}

/** The traces URL of an endpoint: a bare origin gets the OTLP path `/v1/traces`. */
export function tracesUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (url.pathname === '' || url.pathname === '/') url.pathname = '/v1/traces';
  return url.toString();
}

/** The process's AsyncLocalStorage context manager, shared by the tracing gateways (counted). */
let contextUsers = 0;
let ownContextManager = false;

function useContextManager(): () => void {
  if (contextUsers++ === 0) {
    const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks') as typeof ContextAsyncHooks;
    // False when the embedding application registered its own: that one carries the context then.
    ownContextManager = context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--contextUsers === 0 && ownContextManager) {
      context.disable();
      ownContextManager = false;
    }
  };
}

function codeOf(error: unknown): string {
  return error instanceof HubError ? error.code : 'UNEXPECTED_ERROR';
}

function failed(span: Span, code: string): void {
  span.setAttributes({ 'datarun.outcome': code, 'error.type': code });
  span.setStatus({ code: SpanStatusCode.ERROR, message: code });
}

/** The request pipeline's tracing over one tracer. */
export function requestTracing(tracer: Tracer): RequestTracing {
  return {
    request(incoming, run) {
      let parent: Context = context.active();
      const remote = parseTraceparent(incoming.traceparent, incoming.tracestate);
      if (remote) parent = trace.setSpanContext(parent, remote);
      parent = withHubTracer(parent, tracer);
      const span = tracer.startSpan('datarun.request', { kind: SpanKind.SERVER }, parent);
      return context.with(trace.setSpan(parent, span), async () => {
        try {
          const reply = await run();
          if (reply.code === null) span.setAttribute('datarun.outcome', 'OK');
          else failed(span, reply.code);
          return reply;
        } catch (error) {
          failed(span, codeOf(error));
          throw error;
        } finally {
          span.end();
        }
      });
    },
    stage(name, fn) {
      const attributes: Attributes = { 'datarun.stage': name };
      const spanName = `datarun.stage.${name}`;
      const call = fn as (...args: never[]) => unknown;
      const wrapped = function (this: unknown, ...args: never[]): unknown {
        const parent = context.active();
        const span = tracer.startSpan(spanName, { attributes }, parent);
        let result: unknown;
        try {
          result = context.with(trace.setSpan(parent, span), call, this, ...args);
        } catch (error) {
          failed(span, codeOf(error));
          span.end();
          throw error;
        }
        if (result instanceof Promise) {
          return result.then(
            (value: unknown) => {
              span.end();
              return value;
            },
            (error: unknown) => {
              failed(span, codeOf(error));
              span.end();
              throw error;
            },
          );
        }
        span.end();
        return result;
      };
      return Object.assign(wrapped, fn) as unknown as typeof fn;
    },
    annotate(details) {
      const span = trace.getSpan(context.active());
      if (!span) return;
      if (details.consumer !== undefined) span.setAttribute('datarun.consumer', details.consumer);
      if (details.purpose !== undefined) span.setAttribute('datarun.purpose', details.purpose);
      if (details.operationType !== undefined) span.setAttribute('graphql.operation.type', details.operationType);
    },
  };
}

/**
 * Starts a gateway's tracing: undefined without an endpoint (nothing loaded); else a tracer
 * provider of its own (ratio sampling, parent-based), a batch processor and the OTLP/HTTP JSON
 * exporter, and the process's AsyncLocalStorage context manager.
 */
export function startTracing(settings: TracingSettings | undefined): GatewayTracing | undefined {
  if (settings?.otlpEndpoint === undefined) return undefined;
  const endpoint = tracesUrl(settings.otlpEndpoint);
  // Loaded here, only when tracing is on (require: the test runner's transform keeps import() as is).
  const { BasicTracerProvider: Provider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } = require('@opentelemetry/sdk-trace-base') as typeof SdkTraceBase;
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof OtlpHttpExporter;
  const { resourceFromAttributes } = require('@opentelemetry/resources') as typeof Resources;
  const releaseContext = useContextManager();
  const releaseGateway = registerTracingGateway();
  const provider: SdkTraceBase.BasicTracerProvider = new Provider({
    resource: resourceFromAttributes({ 'service.name': settings.serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }))],
  });
  const tracer = provider.getTracer('datarun-hub');
  let stopped: Promise<void> | undefined;
  return {
    ...requestTracing(tracer),
    endpoint,
    flush: () => provider.forceFlush(),
    shutdown() {
      stopped ??= (async () => {
        releaseGateway();
        try {
          await provider.shutdown();
        } finally {
          releaseContext();
        }
      })();
      return stopped;
    },
  };
}
