/**
 * Proofs of two hub instances sharing one Redis (src/gateway/proofs over two shared states, two
 * connections, one server): what one issues, the other publishes in its status list and prints by
 * reference; a department event the other instance's poller reads revokes it for both; issuing
 * at once on both never hands out one status entry twice. The department is a stand-in answering
 * the tax connector's declared kind (the store is what is tested here; the connector's own proof
 * is tested against the tax sandbox in connector-proofs.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { MARKET_REGULATION_PROOFS } from '../../connectors/market-regulation/proofs';
import { TAX_PROOFS } from '../../connectors/tax/proofs';
import { offeredProofBundles, startProofs, type HubProofKind, type HubProofs } from '../../src/gateway/proofs';
import type { RequestContext } from '../../src/gateway/request-context';
import { STATUS, statusAt, verifyProof, verifyStatusListToken } from '../../src/proofs';
import { chinaTime, type Connector } from '../../src/sdk';
import type { KeyStore } from '../../src/seal';
import { createSharedState, type SharedState } from '../../src/state';
import { HANG_DEADLINE_MS } from '../support/deadline';
import { startRedisServer, type RedisServer } from '../support/redis';
import { demoKeyStore, removeTempDirs } from '../unit/seal/fixture';

const BASE = 'https://hub.example.gov.cn';
let redis: RedisServer;
let keyStore: KeyStore;
const states: SharedState[] = [];
const running: HubProofs[] = [];
const dirs: string[] = [];

/** The tax department as the proofs see it: every taxpayer owes nothing. */
const taxKind: HubProofKind = {
  spec: TAX_PROOFS[0]!,
  department: 'tax',
  connector: {
    id: 'tax',
    proofs: { establish: async (_kind: string, subject: { id: string }) => ({ asOf: chinaTime(), holds: true, claims: { taxpayerId: subject.id, hasArrears: false } }) },
  } as unknown as Connector,
};

/** Market regulation as the proofs see it: every enterprise registered, active and off the abnormal list. */
const registrationKind: HubProofKind = {
  spec: MARKET_REGULATION_PROOFS[0]!,
  department: 'market-regulation',
  connector: {
    id: 'market-regulation',
    proofs: {
      establish: async (_kind: string, subject: { id: string }) => ({
        asOf: chinaTime(),
        holds: true,
        claims: { creditCode: subject.id, name: '泰山示例有限公司', registrationStatus: 'ACTIVE', establishedAt: '2015-03-02', legalRepresentative: { idNumber: '370102199001011234' }, onAbnormalList: false },
      }),
    },
  } as unknown as Connector,
};

/** The proofs of one instance; `wrapAllocator` wraps its status-list allocator (a failure injected at one allocation). */
async function instance(wrapAllocator?: Parameters<typeof startProofs>[0]['wrapAllocator']): Promise<HubProofs> {
  // A busy machine may hold a command past the default 500 ms: these tests are about what both instances see, not how fast.
  const state = createSharedState({ redis: { url: redis.url, commandTimeoutMs: 5000 }, rateLimits: () => undefined });
  states.push(state);
  expect(await state.waitUntilReady(HANG_DEADLINE_MS)).toBe(true);
  const dir = mkdtempSync(path.join(tmpdir(), 'datarun-proofs-'));
  dirs.push(dir);
  const kinds = new Map([[taxKind.spec.kind, taxKind], [registrationKind.spec.kind, registrationKind]]);
  const proofs = startProofs({ kinds, bundles: offeredProofBundles(kinds), settings: { baseUrl: BASE, statusListSize: 16_384, statusTtlSeconds: 60, dir }, state, keyStore, ...(wrapAllocator ? { wrapAllocator } : {}) });
  running.push(proofs);
  return proofs;
}

/** What issueProof's resolver hands the proofs: a signed caller and the request's signal. */
function request(): RequestContext {
  const caller = { consumer: 'one-window-hall', roles: [], purpose: 'PROOF_ISSUANCE', caseNumber: 'WZM-1', operator: 'hall-1', requestTokenId: 'r' };
  return { caller, signal: AbortSignal.timeout(HANG_DEADLINE_MS) } as unknown as RequestContext;
}

async function statusOf(proofs: HubProofs, list: number, idx: number): Promise<number> {
  const token = await proofs.statusListToken(list);
  expect(token).toBeDefined();
  const verified = verifyStatusListToken(token!, { keys: { keyStore }, expectedUri: `${BASE}/status/${list}` });
  if (!verified.valid) throw new Error(verified.message);
  return statusAt(verified, idx);
}

beforeAll(async () => {
  redis = await startRedisServer();
  keyStore = await demoKeyStore();
});
afterAll(async () => {
  await Promise.allSettled(running.map((p) => p.close()));
  await Promise.allSettled(states.map((s) => s.close()));
  await redis?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await removeTempDirs();
});

describe('proofs of two instances over one Redis', () => {
  it('publish and print what the other issued, and a revocation by either holds for both', async () => {
    const [a, b] = [await instance(), await instance()];
    const subject = { kind: 'PERSON' as const, id: '370102199001011234' };
    const issued = await a.issue(request(), { kind: 'NO_TAX_ARREARS', subject });
    const list = Number(issued.statusList.slice(`${BASE}/status/`.length));
    expect(await statusOf(b, list, issued.statusIndex)).toBe(STATUS.VALID);
    expect(await b.byReference(issued.reference)).toBe(issued.token);
    const shown = await b.pages.display(issued.token);
    expect(shown.result).toMatchObject({ valid: true, status: 'VALID', kind: 'NO_TAX_ARREARS' });

    // B's poller reads the tax administration's new arrears of the taxpayer.
    const event = { id: 'chg-1', type: 'ARREARS_ARISEN', subject, occurredAt: chinaTime(), department: 'tax' };
    expect(await b.revokeFor('tax', [event], AbortSignal.timeout(HANG_DEADLINE_MS))).toBe(1);
    expect(await statusOf(a, list, issued.statusIndex)).toBe(STATUS.INVALID);
    expect(await a.byReference(issued.reference)).toBeUndefined();
    const token = await a.statusListToken(list);
    expect(await verifyProof(issued.token, { keys: { keyStore }, statusList: { [issued.statusList]: token! } })).toMatchObject({ valid: false, reason: 'REVOKED' });
    // Read again after a crash, the page revokes nothing twice.
    expect(await a.revokeFor('tax', [event], AbortSignal.timeout(HANG_DEADLINE_MS))).toBe(0);
  });

  it('never hand out one status entry twice when both issue at once', async () => {
    const [a, b] = [await instance(), await instance()];
    const issue = (proofs: HubProofs, i: number) => proofs.issue(request(), { kind: 'NO_TAX_ARREARS', subject: { kind: 'PERSON', id: `37010219900101${String(1000 + i)}` } });
    const issued = await Promise.all(Array.from({ length: 40 }, (_, i) => issue(i % 2 === 0 ? a : b, i)));
    const entries = issued.map((p) => `${p.statusList}#${p.statusIndex}`);
    expect(new Set(entries).size).toBe(entries.length);
    expect(new Set(issued.map((p) => p.reference)).size).toBe(issued.length);
  });

  it('issue a bundle whole or not at all: a status entry that cannot be had (any of the three) leaves no part issued, kept or audited', async () => {
    let failAt = 0;
    let calls = 0;
    const proofs = await instance((allocator) => ({
      ...allocator,
      allocate: async () => {
        calls++;
        if (calls === failAt) throw new Error('status list store unavailable (injected)');
        return allocator.allocate();
      },
    }));
    const code = (n: number): string => `91370100MA3C${String(n).padStart(5, '0')}X`;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 99_999 }), async (k, n) => {
        calls = 0;
        failAt = k;
        const ctx = request();
        const subject = { kind: 'ENTERPRISE' as const, id: code(n) };
        await expect(proofs.issue(ctx, { kind: 'ENTERPRISE_GOOD_STANDING', subject })).rejects.toThrow(/injected/);
        expect(ctx.auditChanges ?? []).toEqual([]);
        // Nothing kept for the subject: an event that revokes the tax part finds no live proof.
        const event = { id: `chg-${n}-${k}`, type: 'ARREARS_ARISEN', subject, occurredAt: chinaTime(), department: 'tax' };
        expect(await proofs.revokeFor('tax', [event], AbortSignal.timeout(HANG_DEADLINE_MS))).toBe(0);
      }),
      { numRuns: 12 },
    );
    // With every entry had, the same subject's bundle is issued, with its two parts.
    failAt = 0;
    const ctx = request();
    const issued = await proofs.issue(ctx, { kind: 'ENTERPRISE_GOOD_STANDING', subject: { kind: 'ENTERPRISE', id: code(1) } });
    expect(issued.parts?.map((p) => p.kind)).toEqual(['ENTERPRISE_REGISTRATION', 'NO_TAX_ARREARS']);
    expect(ctx.auditChanges).toHaveLength(3);
  });
});
