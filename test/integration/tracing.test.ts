/**
 * OpenTelemetry tracing end to end (docs/tracing.md): a hub exporting to an in-process OTLP/HTTP
 * receiver, a query reaching every department, a caller's traceparent. One trace holds the
 * request span, the stage spans and a client span per department call; each department system
 * received the trace context in its protocol (HTTP header, SOAP Header element, SQL comment); no
 * span carries personal data.
 */
import { randomBytes } from 'node:crypto';
import { LIVING_ALLOWANCE_FUND_QUERY, PROPERTY_TRANSFER_QUERY, livingAllowanceExample, propertyTransferExample } from '../../src/cli/examples';
import { createDataRunClient } from '../../src/client';
import { startTestHub, type TestHub } from '../support/hub';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver';

const DEPARTMENTS = ['real-estate', 'social-security', 'tax', 'market-regulation', 'housing-fund'] as const;
const STAGES = ['transport', 'authenticate', 'rate-limit', 'replay', 'parse', 'validate', 'policy', 'consent', 'execute', 'mask', 'seal', 'record', 'receipt'];
/** Every attribute a span of the hub may carry: ids of consumers and connectors, codes, names of stages and operations, counts. */
const ALLOWED_ATTRIBUTES = new Set([
  'datarun.stage',
  'datarun.outcome',
  'error.type',
  'datarun.consumer',
  'datarun.purpose',
  'graphql.operation.type',
  'datarun.connector',
  'datarun.operation',
  'datarun.batch_size',
  'datarun.protocol',
]);

let receiver: OtlpReceiver;
let hub: TestHub;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  hub = await startTestHub({ timeoutMs: 3000, tracing: { otlpEndpoint: receiver.url, serviceName: 'tracing-test-hub' } });
});
afterAll(async () => {
  await hub?.close();
  await receiver?.close();
});
beforeEach(() => hub.resetSandboxes());

function traceContext(): { traceId: string; parentId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { traceId, parentId, traceparent: `00-${traceId}-${parentId}-01` };
}

async function spansOf(traceId: string): Promise<ReceivedSpan[]> {
  await hub.gateway.tracing!.flush();
  return receiver.spans.filter((s) => s.traceId === traceId);
}

/** Every identifier and name of the seed. */
function personalData(): string[] {
  const d = hub.sandboxes.data;
  return [...d.persons.flatMap((p) => [p.idNumber, p.name]), ...d.enterprises.flatMap((e) => [e.creditCode, e.name]), ...d.properties.flatMap((p) => [p.unitNumber, p.address])];
}

describe('a traced hub', () => {
  it('puts the request, its stages and every department call in the caller’s trace, and sends the trace context to every department', async () => {
    const { family } = livingAllowanceExample(hub.sandboxes.data);
    const caller = traceContext();
    const reply = await hub.query(LIVING_ALLOWANCE_FUND_QUERY, { family }, { traceparent: caller.traceparent, tracestate: 'caller=t61rcWkgMzE' });
    expect(reply.status).toBe(200);
    expect(reply.errors).toBeUndefined();
    const calls = hub.calls();
    for (const id of DEPARTMENTS) expect({ id, called: (calls[id] ?? 0) > 0 }).toEqual({ id, called: true });

    const spans = await spansOf(caller.traceId);
    expect(spans.every((s) => s.serviceName === 'tracing-test-hub')).toBe(true);
    // One server span, a child of the caller's span.
    const requests = spans.filter((s) => s.name === 'datarun.request');
    expect(requests).toHaveLength(1);
    const request = requests[0]!;
    expect(request.kind).toBe(2);
    expect(request.parentSpanId).toBe(caller.parentId);
    expect(request.attributes['datarun.outcome']).toBe('OK');
    expect(request.attributes['graphql.operation.type']).toBe('query');

    // One span per stage, each a child of the request span.
    const stages = spans.filter((s) => s.name.startsWith('datarun.stage.'));
    expect(stages.map((s) => s.attributes['datarun.stage']).sort()).toEqual([...STAGES].sort());
    for (const stage of stages) expect({ stage: stage.name, parent: stage.parentSpanId }).toEqual({ stage: stage.name, parent: request.spanId });
    const execute = stages.find((s) => s.attributes['datarun.stage'] === 'execute')!;

    // A client span per department call, under the execute stage; every department called.
    const departmentCalls = spans.filter((s) => s.kind === 3);
    expect(new Set(departmentCalls.map((s) => s.attributes['datarun.connector']))).toEqual(new Set(DEPARTMENTS));
    for (const call of departmentCalls) {
      expect(call.parentSpanId).toBe(execute.spanId);
      expect(call.attributes['datarun.outcome']).toBe('OK');
      expect(typeof call.attributes['datarun.operation']).toBe('string');
      expect(call.attributes['datarun.batch_size']).toBeGreaterThan(0);
      expect(call.name).toBe(`${call.attributes['datarun.connector']} ${call.attributes['datarun.operation']}`);
    }
    // The tax calls are SOAP operations of the WSDL, the real-estate ones SQL statements.
    expect(departmentCalls.filter((s) => s.attributes['datarun.connector'] === 'tax').every((s) => s.attributes['datarun.protocol'] === 'soap' && /^Get[A-Za-z]+$/.test(String(s.attributes['datarun.operation'])))).toBe(true);
    expect(departmentCalls.filter((s) => s.attributes['datarun.connector'] === 'real-estate').every((s) => s.attributes['datarun.protocol'] === 'sql')).toBe(true);

    // Each department received a traceparent of this trace naming one of its own call spans.
    const sent = (id: string) => new Set(departmentCalls.filter((s) => s.attributes['datarun.connector'] === id).map((s) => `00-${caller.traceId}-${s.spanId}-01`));
    const controls = hub.sandboxes.sandboxes;
    for (const id of DEPARTMENTS) {
      const seen = controls[id]?.control.lastTraceparent;
      expect({ id, seen: seen !== undefined && sent(id).has(seen) }).toEqual({ id, seen: true });
    }
    // Tax: in the SOAP envelope's Header too.
    const envelope = controls.tax?.control.lastEnvelopeTraceparent;
    expect(envelope !== undefined && sent('tax').has(envelope)).toBe(true);

    // No personal data in any span name or attribute, and only the attributes the hub means to set.
    const received = receiver.spans;
    const text = JSON.stringify(received.map((s) => [s.name, s.attributes]));
    expect(personalData().filter((value) => text.includes(value))).toEqual([]);
    const keys = new Set(received.flatMap((s) => Object.keys(s.attributes)));
    expect([...keys].filter((key) => !ALLOWED_ATTRIBUTES.has(key))).toEqual([]);
    expect(receiver.requests.notJson).toBe(0);
  });

  it('starts a trace of its own for a request without a traceparent, and propagates it', async () => {
    const before = new Set(receiver.spans.map((s) => s.spanId));
    const { family } = livingAllowanceExample(hub.sandboxes.data);
    const reply = await hub.query(LIVING_ALLOWANCE_FUND_QUERY, { family: family.slice(0, 1) }, { traceparent: 'not-a-traceparent' });
    expect(reply.status).toBe(200);
    await hub.gateway.tracing!.flush();
    const request = receiver.spans.find((s) => s.name === 'datarun.request' && !before.has(s.spanId));
    expect(request).toBeDefined();
    expect(request!.parentSpanId).toBe('');
    const seen = hub.sandboxes.sandboxes['social-security']?.control.lastTraceparent;
    expect(seen?.split('-')[1]).toBe(request!.traceId);
  });

  it('records a refusal as the outcome of the request span and of the stage that refused', async () => {
    const caller = traceContext();
    const reply = await hub.query('{ person(idNumber: "110101199003077777") { nonexistentField } }', undefined, { traceparent: caller.traceparent });
    expect(reply.status).toBe(400);
    const spans = await spansOf(caller.traceId);
    const request = spans.find((s) => s.name === 'datarun.request')!;
    expect(request.attributes['datarun.outcome']).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(request.statusCode).toBe(2);
    const validate = spans.find((s) => s.attributes['datarun.stage'] === 'validate')!;
    expect(validate.statusCode).toBe(2);
    expect(validate.attributes['error.type']).toBe('GRAPHQL_VALIDATION_FAILED');
    // No department was asked, and the stages after the refusal did not run (record always does).
    expect(spans.filter((s) => s.kind === 3)).toEqual([]);
    expect(spans.some((s) => s.attributes['datarun.stage'] === 'execute')).toBe(false);
    expect(spans.some((s) => s.attributes['datarun.stage'] === 'record')).toBe(true);
    expect(JSON.stringify(spans)).not.toContain('110101199003077777');
  });
});

describe('a signed hub beside it in the same process', () => {
  let signed: TestHub;
  beforeAll(async () => {
    signed = await startTestHub({ security: 'signed', timeoutMs: 3000, tracing: { otlpEndpoint: receiver.url, serviceName: 'tracing-signed-hub' } });
  });
  afterAll(async () => {
    await signed?.close();
  });

  it('names the consumer and the purpose on the request span, nothing of the case or the operator, and keeps its spans apart', async () => {
    const caller = traceContext();
    const client = createDataRunClient({
      hubUrl: signed.url,
      consumerId: 'real-estate-centre',
      keyFile: signed.gateway.keyStore.privateKeyPath('real-estate-centre')!,
      fetch: (url, init) => fetch(url, { ...init, headers: { ...(init?.headers as Record<string, string>), traceparent: caller.traceparent } }),
    });
    const variables = propertyTransferExample(signed.sandboxes.data);
    const context = { purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-2026-000123', operator: '窗口-张敏' };
    const reply = await client.query<any>(PROPERTY_TRANSFER_QUERY, variables, context);
    expect(reply.status).toBe(200);
    expect(reply.errors).toBeUndefined();
    await signed.gateway.tracing!.flush();
    const spans = receiver.spans.filter((s) => s.traceId === caller.traceId);
    // This hub's provider exported them, under its own service name; the other hub's has none of them.
    expect(spans.length).toBeGreaterThan(STAGES.length);
    expect(new Set(spans.map((s) => s.serviceName))).toEqual(new Set(['tracing-signed-hub']));
    const request = spans.find((s) => s.name === 'datarun.request')!;
    expect(request.attributes).toMatchObject({ 'datarun.consumer': 'real-estate-centre', 'datarun.purpose': 'PROPERTY_TRANSFER', 'datarun.outcome': 'OK' });
    const text = JSON.stringify(spans.map((s) => [s.name, s.attributes]));
    for (const value of [context.caseNumber, context.operator, variables.unitNumber, variables.seller, variables.buyer]) expect(text).not.toContain(value);
    // A client span for every department the query reached, and only for those.
    const called = Object.entries(signed.calls()).filter(([, n]) => n > 0).map(([id]) => id);
    expect(called).toEqual(expect.arrayContaining(['real-estate', 'tax', 'market-regulation']));
    expect(new Set(spans.filter((s) => s.kind === 3).map((s) => s.attributes['datarun.connector']))).toEqual(new Set(called));
  });
});

describe('after the other hub stopped', () => {
  it('still traces (the context manager is shared and counted)', async () => {
    const caller = traceContext();
    const reply = await hub.query('{ __typename }', undefined, { traceparent: caller.traceparent });
    expect(reply.status).toBe(200);
    const spans = await spansOf(caller.traceId);
    expect(spans.find((s) => s.name === 'datarun.request')?.parentSpanId).toBe(caller.parentId);
    expect(spans.some((s) => s.attributes['datarun.stage'] === 'execute')).toBe(true);
  });
});
