/**
 * Tracing without servers (docs/tracing.md): W3C trace context parsing and formatting, the SQL
 * comment and SOAP header forms, the configuration and its environment, and the off path (no
 * endpoint: nothing loaded, nothing wrapped, department calls run as they are).
 */
import { traceHeaderBlock } from '../../connectors/tax/soap';
import { loadConfig, parseConfig } from '../../src/gateway/config';
import { startTracing, tracesUrl, untracedStage } from '../../src/gateway/tracing';
import { currentPropagation, formatTraceparent, parseTraceparent, sqlTraceComment, traceDepartmentCall, tracingActive } from '../../src/sdk';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';

describe('W3C trace context', () => {
  it('reads a valid traceparent, its sampled flag and the tracestate', () => {
    const context = parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-01`, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
    expect(context).toMatchObject({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, isRemote: true });
    expect(context!.traceState!.get('rojo')).toBe('00f067aa0ba902b7');
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-00`)!.traceFlags).toBe(0);
    // A later version is read by its first four fields.
    expect(parseTraceparent(`01-${TRACE_ID}-${SPAN_ID}-01-more`)).toMatchObject({ traceId: TRACE_ID });
  });

  it.each([
    ['absent', undefined],
    ['garbage', 'not-a-traceparent'],
    ['version ff', `ff-${TRACE_ID}-${SPAN_ID}-01`],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${SPAN_ID}-01`],
    ['an all-zero span id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
    ['upper-case hex', `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`],
    ['version 00 with more fields', `00-${TRACE_ID}-${SPAN_ID}-01-extra`],
    ['a short trace id', `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01`],
  ])('ignores %s', (_what, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  it('formats a span context as traceparent and tracestate', () => {
    const context = parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-01`, 'congo=t61rcWkgMzE')!;
    expect(formatTraceparent(context)).toEqual({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-01`, tracestate: 'congo=t61rcWkgMzE' });
    expect(formatTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0 })).toEqual({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-00` });
  });

  it('writes the SQL comment and the SOAP header block', () => {
    const propagation = { traceparent: `00-${TRACE_ID}-${SPAN_ID}-01`, tracestate: 'a=1&2' };
    expect(sqlTraceComment(propagation)).toBe(`/* traceparent='00-${TRACE_ID}-${SPAN_ID}-01' */ `);
    expect(sqlTraceComment(undefined)).toBe('');
    const header = traceHeaderBlock(propagation);
    expect(header).toMatch(/^<soap:Header><tc:traceparent xmlns:tc="urn:datarun:trace-context:v1">00-[0-9a-f-]+<\/tc:traceparent>/);
    expect(header).toContain('<tc:tracestate xmlns:tc="urn:datarun:trace-context:v1">a=1&amp;2</tc:tracestate></soap:Header>');
  });
});

describe('tracing configuration', () => {
  it('is off by default, with the default service name and ratio', () => {
    expect(parseConfig({}).tracing).toEqual({ serviceName: 'datarun-hub', sampleRatio: 1 });
  });

  it('reads DATARUN_OTLP_ENDPOINT over the standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, and the sample ratio', () => {
    expect(loadConfig({ env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://otel:4318/v1/traces' } }).tracing.otlpEndpoint).toBe('http://otel:4318/v1/traces');
    const both = loadConfig({ env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://otel:4318/v1/traces', DATARUN_OTLP_ENDPOINT: 'https://collector.example:4318', DATARUN_TRACE_SAMPLE_RATIO: '0.25' } });
    expect(both.tracing).toEqual({ otlpEndpoint: 'https://collector.example:4318', serviceName: 'datarun-hub', sampleRatio: 0.25 });
  });

  it('refuses an endpoint that is not an http(s) URL, one with credentials, and a ratio outside 0..1', () => {
    expect(() => parseConfig({ tracing: { otlpEndpoint: 'grpc://otel:4317' } })).toThrow(/tracing\.otlpEndpoint/);
    expect(() => parseConfig({ tracing: { otlpEndpoint: 'http://user:secret@otel:4318' } })).toThrow(/tracing\.otlpEndpoint/);
    expect(() => loadConfig({ env: { DATARUN_TRACE_SAMPLE_RATIO: '1.5' } })).toThrow(/tracing\.sampleRatio/);
  });

  it('adds the OTLP traces path to a bare collector URL only', () => {
    expect(tracesUrl('http://otel:4318')).toBe('http://otel:4318/v1/traces');
    expect(tracesUrl('http://otel:4318/')).toBe('http://otel:4318/v1/traces');
    expect(tracesUrl('http://otel:4318/custom/traces')).toBe('http://otel:4318/custom/traces');
  });
});

describe('tracing off', () => {
  it('loads nothing and wraps nothing without an endpoint', () => {
    expect(startTracing(undefined)).toBeUndefined();
    expect(startTracing({ serviceName: 'x', sampleRatio: 1 })).toBeUndefined();
    const stage = (flow: unknown): unknown => flow;
    expect(untracedStage('parse', stage)).toBe(stage);
    expect(Object.keys(require.cache).some((file) => file.includes('@opentelemetry/sdk-trace-base'))).toBe(false);
  });

  it('runs department calls as they are, with no trace context', async () => {
    expect(tracingActive()).toBe(false);
    expect(currentPropagation()).toBeUndefined();
    const seen: unknown[] = [];
    await expect(traceDepartmentCall({ connector: 'x', operation: 'y' }, async (propagation) => (seen.push(propagation), 42))).resolves.toBe(42);
    expect(seen).toEqual([undefined]);
  });
});
