/**
 * What operators see of a running hub: its Prometheus metrics on the operator listener (and to
 * an administrator's signed request only, on the main one), one log line per request and one per
 * department failing or recovering; never a citizen's, an enterprise's or a property's identifier.
 */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';
import { PROPERTY_TRANSFER_QUERY, propertyTransferExample } from '../../src/cli/examples';
import { createRequestSigner, type PrivateJwk } from '../../src/seal';
import { startTestHub, type TestHub } from '../support/hub';
import { parsePrometheusText, sampleValue, type PromFamily } from '../support/prometheus';

const TRANSFER = { purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-METRICS-1', operator: 'op-7' };
let hub: TestHub;
const lines: Record<string, unknown>[] = [];
const raw: string[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  // The tax bureau may send one request, then one every 1000 s.
  hub = await startTestHub({ security: 'signed', logger: pino({ level: 'info' }, sink), rateLimits: { 'tax-bureau': { requestsPerSecond: 0.001, burst: 1 } } });
});
afterAll(async () => {
  await hub?.close();
});

/** An `Authorization` header for a GET (empty body) signed by this consumer's registered key. */
function signedGet(consumer: string): string {
  const jwk = JSON.parse(readFileSync(hub.gateway.keyStore.privateKeyPath(consumer)!, 'utf8')) as PrivateJwk;
  return createRequestSigner({ consumerId: consumer, privateJwk: jwk }).authorization('', { purpose: 'OPERATIONS', caseNumber: 'OPS-1', operator: 'ops' });
}

/** Every identifying value of the seed: none may appear in a label or a log line. */
function seedIdentifiers(): string[] {
  const { persons, enterprises, properties } = hub.sandboxes.data;
  return [
    ...persons.flatMap((p) => [p.idNumber, p.name, p.address, p.phone]),
    ...enterprises.flatMap((e) => [e.creditCode, e.name]),
    ...properties.map((p) => p.unitNumber),
  ].filter((v) => v.length >= 2);
}

async function scrape(): Promise<{ text: string; families: Map<string, PromFamily> }> {
  const res = await fetch(`${hub.operatorUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, families: parsePrometheusText(text) };
}

describe('metrics and the request log after mixed load', () => {
  let families: Map<string, PromFamily>;
  const example = () => propertyTransferExample(hub.sandboxes.data);

  beforeAll(async () => {
    const centre = hub.clientFor('real-estate-centre');
    // Served, twice.
    for (let i = 0; i < 2; i++) expect((await centre.query(PROPERTY_TRANSFER_QUERY, example(), { ...TRANSFER, caseNumber: `BDC-METRICS-${i}` })).status).toBe(200);
    // Served with a seal.
    const sealed = await centre.query<any>('query($u: ID!) { property(unitNumber: $u) { address area seal { token } } }', { u: example().unitNumber }, TRANSFER);
    expect(sealed.data.property.seal.token).toEqual(expect.any(String));
    // Denied: a purpose the centre does not hold.
    expect((await centre.query('query($u: ID!) { property(unitNumber: $u) { address } }', { u: example().unitNumber }, { ...TRANSFER, purpose: 'INVESTIGATION' })).status).toBe(403);
    // Refused before authentication: no token.
    expect((await hub.query('{ __typename }')).status).toBe(401);
    // Refused by the replay guard: one signed token twice.
    const body = JSON.stringify({ query: '{ __typename }' });
    const jwk = JSON.parse(readFileSync(hub.gateway.keyStore.privateKeyPath('real-estate-centre')!, 'utf8')) as PrivateJwk;
    const authorization = createRequestSigner({ consumerId: 'real-estate-centre', privateJwk: jwk }).authorization(body, TRANSFER);
    const post = () => fetch(`${hub.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body });
    expect((await post()).status).toBe(200);
    expect((await post()).status).toBe(401);
    // Refused by the rate limit.
    const bureau = hub.clientFor('tax-bureau');
    const limited = [await bureau.query('{ __typename }', undefined, { ...TRANSFER, purpose: 'NO_ARREARS_PROOF' }), await bureau.query('{ __typename }', undefined, { ...TRANSFER, purpose: 'NO_ARREARS_PROOF' })];
    expect(limited.map((r) => r.status)).toEqual([200, 429]);
    // A department down: the tax bureau's fields fail, the rest is served.
    const down = await fetch(`${hub.operatorUrl}/__sandbox/faults/tax`, { method: 'POST', body: '{"mode":"down"}' });
    expect(down.status).toBe(200);
    const partial = await centre.query(PROPERTY_TRANSFER_QUERY, example(), { ...TRANSFER, caseNumber: 'BDC-METRICS-DOWN' });
    expect(partial.errors?.some((e) => e.extensions?.code === 'CONNECTOR_UNAVAILABLE')).toBe(true);
    await centre.query(PROPERTY_TRANSFER_QUERY, example(), { ...TRANSFER, caseNumber: 'BDC-METRICS-DOWN-2' });
    // And back.
    await fetch(`${hub.operatorUrl}/__sandbox/faults/tax`, { method: 'POST', body: '{"mode":"none"}' });
    expect((await centre.query(PROPERTY_TRANSFER_QUERY, example(), { ...TRANSFER, caseNumber: 'BDC-METRICS-UP' })).errors).toBeUndefined();
    ({ families } = await scrape());
  });

  it('counts requests by consumer, purpose, outcome and code', () => {
    const requests = (labels: Record<string, string>) => sampleValue(families, 'datarun_requests_total', 'datarun_requests_total', labels);
    expect(families.get('datarun_requests_total')?.type).toBe('counter');
    expect(requests({ consumer: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER', outcome: 'granted', code: 'OK' })).toBe(5);
    expect(requests({ consumer: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER', outcome: 'partial', code: 'CONNECTOR_UNAVAILABLE' })).toBe(2);
    expect(requests({ consumer: 'real-estate-centre', purpose: 'INVESTIGATION', outcome: 'denied', code: 'POLICY_DENIED' })).toBe(1);
    // Unsigned: nobody known. Replayed: the signature verified, so the consumer is known (and recorded).
    expect(requests({ consumer: '-', purpose: '-', outcome: 'denied', code: 'UNAUTHENTICATED' })).toBe(1);
    expect(requests({ consumer: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER', outcome: 'denied', code: 'UNAUTHENTICATED' })).toBe(1);
    expect(sampleValue(families, 'datarun_guard_refusals_total', 'datarun_guard_refusals_total', { guard: 'replay', reason: 'REPLAYED' })).toBe(1);
    expect(sampleValue(families, 'datarun_guard_refusals_total', 'datarun_guard_refusals_total', { guard: 'rate-limit', reason: 'RATE_LIMITED' })).toBe(1);
    expect(requests({ consumer: 'tax-bureau', purpose: 'NO_ARREARS_PROOF', outcome: 'denied', code: 'RATE_LIMITED' })).toBe(1);
  });

  it('times requests, every stage and the access log', () => {
    const count = (family: string, labels: Record<string, string> = {}) => sampleValue(families, family, `${family}_count`, labels);
    expect(families.get('datarun_request_duration_seconds')?.type).toBe('histogram');
    expect(count('datarun_request_duration_seconds', { outcome: 'granted' })).toBe(6);
    for (const stage of ['transport', 'authenticate', 'rate-limit', 'replay', 'parse', 'validate', 'policy', 'consent', 'execute', 'mask', 'seal', 'record', 'receipt']) {
      expect(count('datarun_stage_duration_seconds', { stage })).toBeGreaterThan(0);
    }
    expect(count('datarun_audit_append_duration_seconds')).toBeGreaterThan(0);
    expect(count('datarun_audit_fsync_duration_seconds')).toBeGreaterThan(0);
    const window = sampleValue(families, 'datarun_audit_unsigned_window_seconds', 'datarun_audit_unsigned_window_seconds');
    expect(window).toBeGreaterThanOrEqual(0);
    expect(window).toBeLessThan(600);
    // One per request that ran: six granted, two partial.
    expect(sampleValue(families, 'datarun_receipts_total', 'datarun_receipts_total')).toBe(8);
    expect(sampleValue(families, 'datarun_seals_total', 'datarun_seals_total')).toBe(1);
  });

  it('times department calls, counts their errors and batch sizes, and says which departments are up', () => {
    expect(sampleValue(families, 'datarun_department_call_errors_total', 'datarun_department_call_errors_total', { connector: 'tax', code: 'CONNECTOR_UNAVAILABLE' })).toBeGreaterThan(0);
    expect(sampleValue(families, 'datarun_department_call_duration_seconds', 'datarun_department_call_duration_seconds_count', { connector: 'real-estate', result: 'ok' })).toBeGreaterThan(0);
    expect(sampleValue(families, 'datarun_department_batch_size', 'datarun_department_batch_size_count', { connector: 'tax' })).toBeGreaterThan(0);
    expect(sampleValue(families, 'datarun_department_up', 'datarun_department_up', { connector: 'tax' })).toBe(1);
    // The process metrics are in the same registry.
    expect(families.get('process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(families.get('nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
  });

  it('never puts a seed identifier in a label value', () => {
    const identifiers = new Set(seedIdentifiers());
    const values = [...families.values()].flatMap((f) => f.samples.flatMap((s) => Object.values(s.labels)));
    expect(values.length).toBeGreaterThan(50);
    const leaked = values.filter((v) => identifiers.has(v) || [...identifiers].some((id) => id.length >= 6 && v.includes(id)));
    expect(leaked).toEqual([]);
  });

  it('logs one line per request, with its id, consumer, purpose, outcome, code, status, duration and departments', () => {
    const requests = lines.filter((l) => l.msg === 'request');
    expect(requests).toHaveLength(12);
    const served = requests.find((l) => l.outcome === 'granted' && (l.departments as string[]).length > 1)!;
    expect(served).toMatchObject({ consumer: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER', code: null, status: 200, operation: 'PropertyTransfer' });
    expect(served.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(served.queryHash).toMatch(/^[0-9a-f]{64}$/);
    expect(typeof served.durationMs).toBe('number');
    expect(served.departments).toEqual(expect.arrayContaining(['real-estate', 'tax']));
    expect(requests.find((l) => l.code === 'POLICY_DENIED')).toMatchObject({ outcome: 'denied', status: 403 });
    expect(requests.filter((l) => l.code === 'UNAUTHENTICATED').map((l) => [l.consumer, l.status])).toEqual([
      ['-', 401],
      ['real-estate-centre', 401],
    ]);
    expect(requests.filter((l) => l.code === 'CONNECTOR_UNAVAILABLE').map((l) => [l.outcome, l.status])).toEqual([
      ['partial', 200],
      ['partial', 200],
    ]);
  });

  it('logs a department once when it starts failing and once when it recovers', () => {
    expect(lines.filter((l) => l.msg === 'department failing')).toEqual([expect.objectContaining({ connector: 'tax', code: 'CONNECTOR_UNAVAILABLE', level: 40 })]);
    expect(lines.filter((l) => l.msg === 'department recovered')).toEqual([expect.objectContaining({ connector: 'tax', level: 30 })]);
  });

  it('never logs a seed identifier, a variable or the query text', () => {
    const identifiers = seedIdentifiers();
    const leaked = raw.filter((line) => identifiers.some((id) => line.includes(id)));
    expect(leaked).toEqual([]);
    expect(raw.some((line) => line.includes('certificateNumber') || line.includes('op-7') || line.includes('BDC-METRICS'))).toBe(false);
  });
});

describe('who may read the operator routes', () => {
  it('hides /metrics and the sandbox routes on the main listener, and keeps /readyz to its bare answer', async () => {
    expect((await fetch(`${hub.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${hub.url}/__sandbox/calls`)).status).toBe(404);
    const ready = await fetch(`${hub.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    const detail = (await (await fetch(`${hub.operatorUrl}/readyz`)).json()) as Record<string, unknown>;
    expect(detail).toMatchObject({ ready: true, departments: { down: [] } });
  });

  it('answers an administrator\'s signed request on the main listener, once per token', async () => {
    const authorization = signedGet('hub-admin');
    const res = await fetch(`${hub.url}/metrics`, { headers: { authorization } });
    expect(res.status).toBe(200);
    expect(parsePrometheusText(await res.text()).has('datarun_requests_total')).toBe(true);
    expect((await fetch(`${hub.url}/metrics`, { headers: { authorization } })).status).toBe(401);
    const ready = await fetch(`${hub.url}/readyz`, { headers: { authorization: signedGet('hub-admin') } });
    expect(await ready.json()).toMatchObject({ ready: true, connectors: expect.any(Array) });
    const calls = await fetch(`${hub.url}/__sandbox/calls`, { headers: { authorization: signedGet('hub-admin') } });
    expect(calls.status).toBe(200);
    expect(await calls.json()).toHaveProperty('tax');
  });

  it('refuses a consumer that is not an administrator, and a token that does not verify', async () => {
    expect((await fetch(`${hub.url}/metrics`, { headers: { authorization: signedGet('real-estate-centre') } })).status).toBe(403);
    expect((await fetch(`${hub.url}/metrics`, { headers: { authorization: 'DatarunRequest not.a.token' } })).status).toBe(401);
  });

  it('checks the signed body of a sandbox control request', async () => {
    const jwk = JSON.parse(readFileSync(hub.gateway.keyStore.privateKeyPath('hub-admin')!, 'utf8')) as PrivateJwk;
    const signer = createRequestSigner({ consumerId: 'hub-admin', privateJwk: jwk });
    const body = '{"mode":"none"}';
    const context = { purpose: 'OPERATIONS', caseNumber: 'OPS-2', operator: 'ops' };
    const ok = await fetch(`${hub.url}/__sandbox/faults/tax`, { method: 'POST', headers: { authorization: signer.authorization(body, context) }, body });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ mode: 'none' });
    const swapped = await fetch(`${hub.url}/__sandbox/faults/tax`, { method: 'POST', headers: { authorization: signer.authorization(body, context) }, body: '{"mode":"down"}' });
    expect(swapped.status).toBe(401);
    expect(hub.sandboxes.sandboxes.tax!.control.faults.mode).toBe('none');
  });
});
