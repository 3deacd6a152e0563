/**
 * Trace context for department calls (W3C Trace Context, docs/tracing.md). The hub's gateway
 * starts a request's span and puts its tracer into the active OpenTelemetry context; each
 * department call then gets its own client span and the `traceparent` to send, in whatever form
 * its protocol carries it (an HTTP header, a SOAP header element, a SQL comment).
 *
 * Off (no gateway of this process traces), every helper returns at its first line: one boolean
 * read, no context lookup, nothing allocated. Span names and attributes carry connector ids,
 * operation names, counts and error codes only, never a value of a request.
 */
import { context, createContextKey, createTraceState, isSpanContextValid, SpanKind, SpanStatusCode, trace, TraceFlags, type Context, type SpanContext, type Tracer } from '@opentelemetry/api';
import { HubError } from './errors';

/** The W3C trace context one department call sends. */
export interface TracePropagation {
  /** `00-<trace id>-<span id of the call>-<flags>` */
  readonly traceparent: string;
  /** The caller's `tracestate`, when it sent one. */
  readonly tracestate?: string;
}

/** What a department call says about itself, for its span. No values of the request. */
export interface DepartmentCallInfo {
  /** The connector id. */
  readonly connector: string;
  /** A fixed operation name (`GetTaxpayers`, `insured.batch`, `propertyByUnit`), never a path or a query with values. */
  readonly operation: string;
  /** How many identifiers the call carries. */
  readonly batchSize?: number;
  /** `http`, `soap`, `sql`, `graphql`. */
  readonly protocol?: string;
}

const TRACER_KEY = createContextKey('datarun hub tracer');
const CALL_KEY = createContextKey('datarun department call');

/** Gateways of this process that trace: 0 keeps every helper on its one-boolean off path. */
let tracingGateways = 0;

/** True while a gateway of this process traces. The off path of callers checks it before building anything. */
export function tracingActive(): boolean {
  return tracingGateways > 0;
}

/** Marks one gateway of the process as tracing (the gateway's tracing setup); returns the undo. */
export function registerTracingGateway(): () => void {
  tracingGateways++;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    tracingGateways--;
  };
}

/** A context whose department calls are traced with `tracer` (the gateway's, per gateway). */
export function withHubTracer(parent: Context, tracer: Tracer): Context {
  return parent.setValue(TRACER_KEY, tracer);
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[^\s]*)?$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

/**
 * The caller's span context from its `traceparent` and `tracestate` headers, or undefined for an
 * absent or invalid one (W3C Trace Context level 1: version ff and all-zero ids are invalid; a
 * later version is read by its first four fields).
 */
export function parseTraceparent(traceparent: string | undefined, tracestate?: string): SpanContext | undefined {
  if (traceparent === undefined || traceparent.length > 512) return undefined;
  const match = TRACEPARENT.exec(traceparent.trim());
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff' || (version === '00' && rest !== undefined) || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  const state = tracestate !== undefined && tracestate.length > 0 && tracestate.length <= 8192 ? createTraceState(tracestate) : undefined;
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED, isRemote: true, ...(state ? { traceState: state } : {}) };
}

/** The `traceparent` (and `tracestate`) naming a span context. */
export function formatTraceparent(spanContext: SpanContext): TracePropagation | undefined {
  if (!isSpanContextValid(spanContext)) return undefined;
  const traceparent = `00-${spanContext.traceId}-${spanContext.spanId}-0${(spanContext.traceFlags & TraceFlags.SAMPLED).toString(16)}`;
  const tracestate = spanContext.traceState?.serialize();
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

/**
 * The trace context to send from where the code runs now: that of the department call in
 * progress, else of the request. Undefined when nothing is traced.
 */
export function currentPropagation(): TracePropagation | undefined {
  if (tracingGateways === 0) return undefined;
  const span = trace.getSpan(context.active());
  return span ? formatTraceparent(span.spanContext()) : undefined;
}

/** The error code a failed call is recorded with (never its message, which may quote data). */
function codeOf(error: unknown): string {
  return error instanceof HubError ? error.code : 'UNEXPECTED_ERROR';
}

/**
 * Runs one department call in its client span, a child of the request (through the active
 * context, which AsyncLocalStorage carries into the loaders' batches), and hands `run` the trace
 * context to send. Untraced (tracing off, or a call outside any request such as a change-feed
 * poll), `run` gets undefined and nothing else happens. A call inside another call's span (the
 * SOAP client on the HTTP upstream) gets that span's context and no second span.
 */
export function traceDepartmentCall<T>(info: DepartmentCallInfo, run: (propagation: TracePropagation | undefined) => Promise<T>): Promise<T> {
  if (tracingGateways === 0) return run(undefined);
  const parent = context.active();
  const tracer = parent.getValue(TRACER_KEY) as Tracer | undefined;
  if (tracer === undefined) return run(undefined);
  if (parent.getValue(CALL_KEY) !== undefined) {
    const current = trace.getSpan(parent);
    return run(current ? formatTraceparent(current.spanContext()) : undefined);
  }
  const span = tracer.startSpan(
    `${info.connector} ${info.operation}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'datarun.connector': info.connector,
        'datarun.operation': info.operation,
        ...(info.batchSize !== undefined ? { 'datarun.batch_size': info.batchSize } : {}),
        ...(info.protocol !== undefined ? { 'datarun.protocol': info.protocol } : {}),
      },
    },
    parent,
  );
  const callContext = trace.setSpan(parent, span).setValue(CALL_KEY, true);
  return context.with(callContext, async () => {
    try {
      const result = await run(formatTraceparent(span.spanContext()));
      span.setAttribute('datarun.outcome', 'OK');
      return result;
    } catch (error) {
      const code = codeOf(error);
      span.setAttributes({ 'datarun.outcome': code, 'error.type': code });
      span.setStatus({ code: SpanStatusCode.ERROR, message: code });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * The SQL comment carrying a call's trace context, to prefix to its statement
 * (`/* traceparent='00-…' *\/ `, the sqlcommenter form); '' when untraced. Only hex digits and
 * dashes go in, so it cannot end the comment early.
 */
export function sqlTraceComment(propagation: TracePropagation | undefined): string {
  return propagation ? `/* traceparent='${propagation.traceparent}' */ ` : '';
}
