/**
 * The record cache keeps the batching promise: one call per department per nesting level on a
 * cold cache, and on a warm one only the calls the cache cannot answer (the list lookups, which
 * are not cached), with a reply identical to the uncached one.
 */
import { generateSeed, startSandboxes, type SandboxSet } from '../../departments';
import { MARKET_REGULATION_OPERATIONS } from '../../departments/market-regulation';
import { startHubInProcess, startRedisServer, type InProcessHub, type RedisServer } from '../support/redis';

const PEOPLE_QUERY = `query($ids: [ID!]!) { people(idNumbers: $ids) {
    idNumber name
    socialInsurance { scheme }
    properties { unitNumber address mortgages { status } deedTaxPayments { amount } }
    taxRecords { hasArrears }
    enterprises { name status employerAccount { employeeCount } }
} }`;

let sandboxes: SandboxSet;
let redis: RedisServer;
let cached: InProcessHub;
let uncached: InProcessHub;
beforeAll(async () => {
  [sandboxes, redis] = await Promise.all([startSandboxes(generateSeed({ seed: 1, size: 200 })), startRedisServer()]);
  // Open mode without the access log: this is about the cache (a shared index database would be needed otherwise).
  cached = await startHubInProcess(sandboxes, redis.url, { security: { mode: 'open' }, audit: { enabled: false } });
  uncached = await startHubInProcess(sandboxes, undefined, { security: { mode: 'open' }, cache: { enabled: false } });
});
afterAll(async () => {
  await Promise.allSettled([cached?.close(), uncached?.close()]);
  await Promise.allSettled([sandboxes?.close(), redis?.stop()]);
});

/** Calls per department since the last reset, leaving out the change-feed polls of the invalidation poller. */
function calls(): Record<string, number> {
  const feed = MARKET_REGULATION_OPERATIONS.changes;
  return Object.fromEntries(Object.entries(sandboxes.sandboxes).map(([id, s]) => [id, s.control.totalCalls() - (s.control.calls.get(feed) ?? 0)]));
}

async function people(hub: InProcessHub, ids: string[]): Promise<unknown> {
  for (const s of Object.values(sandboxes.sandboxes)) s.control.reset();
  const res = await fetch(`${hub.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: PEOPLE_QUERY, variables: { ids } }) });
  const body = (await res.json()) as { data?: unknown; errors?: unknown };
  expect(body.errors).toBeUndefined();
  return body.data;
}

describe('batching with the shared record cache', () => {
  it('makes one call per department per nesting level when the cache is cold, and answers as without a cache', async () => {
    const ids = sandboxes.data.persons.slice(0, 50).map((p) => p.idNumber);
    const fresh = await people(uncached, ids);
    const cold = await people(cached, ids);
    expect(calls()).toEqual({ 'real-estate': 1, 'social-security': 2, tax: 2, 'market-regulation': 1, 'housing-fund': 0 });
    expect(cold).toEqual(fresh);
  });

  it('asks the departments only what the cache cannot answer once it is warm', async () => {
    const ids = sandboxes.data.persons.slice(0, 50).map((p) => p.idNumber);
    await people(cached, ids);
    const warm = await people(cached, ids);
    // Left: the list lookups, which are not cached (properties by owner, deed tax by unit, enterprises by legal
    // representative), and tax for the people who are no taxpayer: absence is never cached.
    expect(calls()).toEqual({ 'real-estate': 1, 'social-security': 0, tax: 2, 'market-regulation': 1, 'housing-fund': 0 });
    const withoutTaxRecord = ids.filter((id) => !sandboxes.data.taxpayers.some((t) => t.taxpayerId === id));
    expect(withoutTaxRecord.length).toBeGreaterThan(0);
    expect(sandboxes.sandboxes['market-regulation']!.control.calls.get(MARKET_REGULATION_OPERATIONS.enterprisesBatch)).toBeUndefined();
    expect(warm).toEqual(await people(uncached, ids));
  });
});
