/**
 * Trust between hubs with a real hub B: its JWKS statement fetched over HTTP by A's peer key
 * source and verified against the root A pinned; a seal of a real query to B verified through
 * it; B's seal key rotated (and B restarted) → the new statement accepted and the new seal
 * verified; a root that is not B's refused; B down → verified from the disk copy; B's older
 * statement replayed → refused. `datarun verify --peer --root` on the same seal.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runVerify } from '../../src/cli/verify';
import { PROPERTY_TRANSFER_QUERY, propertyTransferExample } from '../../src/cli/examples';
import { createPeerKeySource, peerCacheDir, type PeerKeySource } from '../../src/gateway';
import { createKeyStore, FEDERATION_STATEMENT_PATH, rotateKey, verifyPeerJwks, verifySeal } from '../../src/seal';
import { startTestHub, type TestHub } from '../support/hub';
import { WITH_DEPARTMENTS } from '../support/keys';
import { eventually } from '../support/redis';

const TRANSFER = { purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-2026-000123', operator: '窗口-张敏' };
const SEALED = PROPERTY_TRANSFER_QUERY.replace(
  'payments(taxType: DEED) { voucherNumber amount paidAt property { unitNumber } }',
  'payments(taxType: DEED) { voucherNumber amount paidAt property { unitNumber } seal { issuer keyId token } }',
);

const work = mkdtempSync(path.join(tmpdir(), 'datarun-federation-'));
let b: TestHub | undefined;
const sources: PeerKeySource[] = [];
afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await b?.close();
  rmSync(work, { recursive: true, force: true });
});

/** A query to B as the real-estate centre: the deed-tax payment's seal, the tax department's. */
async function taxSeal(hub: TestHub): Promise<{ issuer: string; keyId: string; token: string }> {
  const reply = await hub.clientFor('real-estate-centre').query<any>(SEALED, propertyTransferExample(hub.sandboxes.data), TRANSFER);
  expect(reply.errors).toBeUndefined();
  return reply.data.buyer.taxRecords.payments[0].seal;
}

/** Fetches over real HTTP from whichever B runs now (a restarted B listens on another port). */
const toCurrentB: typeof fetch = (input, init) => fetch(String(input).replace(/^http:\/\/[^/]+/, b!.url), init);

describe('trust between hubs', () => {
  it('A verifies B’s seals through B’s statement and the root it pinned, across a rotation, B down, and a replay', async () => {
    b = await startTestHub({ security: 'signed' });
    const root = b.gateway.keyStore.federationRoot()!;
    const cacheDir = peerCacheDir(path.join(work, 'a-keys'));
    const peers = { 'datarun-hub': { url: b.url, root: root.thumbprint } };
    const a = createPeerKeySource({ peers, cacheDir, fetch: toCurrentB, refetchIntervalSec: 0 });
    sources.push(a);

    // B serves its statement: the JWKS it publishes, signed by its root.
    const res = await fetch(`${b.url}${FEDERATION_STATEMENT_PATH}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/jwt');
    const first = await res.text();
    const jwks = await (await fetch(`${b.url}/.well-known/jwks.json`)).json();
    expect(verifyPeerJwks(first, { hub: 'datarun-hub', root: root.jwk })).toMatchObject({ valid: true, jwks });

    const seal = await taxSeal(b);
    const keys = await a.keysOf('datarun-hub', { kid: seal.keyId });
    expect(verifySeal(seal.token, { jwks: keys })).toMatchObject({ valid: true, issuer: 'tax', keyId: seal.keyId });

    // datarun verify --peer --root: from B's URL, and offline from a saved statement and root file.
    const rootFile = path.join(work, 'b-root.json');
    writeFileSync(rootFile, JSON.stringify({ hub: root.hub, alg: root.alg, jwk: root.jwk, thumbprint: root.thumbprint }));
    const statementFile = path.join(work, 'b-statement.jwt');
    writeFileSync(statementFile, first);
    const lines: string[] = [];
    expect(await runVerify({ token: seal.token, peer: b.url, root: rootFile, out: (l) => lines.push(l) })).toBe(0);
    expect(lines[0]).toMatch(new RegExp(`^peer {7}datarun-hub: keys signed by its root ${root.thumbprint}, statement of `));
    expect(lines[1]).toBe('VALID seal');
    expect(await runVerify({ token: seal.token, peer: statementFile, root: root.thumbprint, peerHub: 'datarun-hub', out: () => undefined })).toBe(0);
    const other = await createKeyStore(path.join(work, 'other-keys'), WITH_DEPARTMENTS);
    const refused: string[] = [];
    expect(await runVerify({ token: seal.token, peer: statementFile, root: other.federationRoot()!.thumbprint, out: (l) => refused.push(l) })).toBe(6);
    expect(refused).toEqual(['INVALID peer statement: the statement names a root key other than the pinned one (WRONG_ROOT)']);

    // B rotates the tax department's seal key and restarts: its new statement is signed by the same root.
    const saved = path.join(work, 'b-keys');
    // Only the keys (B's access log, cases and proofs stay with the B that ran).
    const keyFiles = new Set(['trust.json', 'jwks.json', 'federation-root.json', 'private']);
    cpSync(b.keysDir, saved, { recursive: true, filter: (source) => source === b!.keysDir || keyFiles.has(path.relative(b!.keysDir, source).split(path.sep)[0]!) });
    const rotated = await rotateKey(saved, 'tax', { use: 'seal' });
    await b.close();
    const iat = Math.floor(Date.now() / 1000);
    // A statement of a later second than the first (iat is in seconds): a replay of the first is then older.
    await eventually(() => Math.floor(Date.now() / 1000) > iat, 'the next second');
    b = await startTestHub({ security: 'signed', prepareKeys: async (dir) => cpSync(saved, dir, { recursive: true }) });
    expect(b.gateway.keyStore.federationRoot()!.thumbprint).toBe(root.thumbprint);
    const newSeal = await taxSeal(b);
    expect(newSeal.keyId).toBe(rotated.created[0]);
    expect(verifySeal(newSeal.token, { jwks: keys })).toMatchObject({ valid: false, reason: 'UNKNOWN_KEY' });
    const newKeys = await a.keysOf('datarun-hub', { kid: newSeal.keyId });
    expect(verifySeal(newSeal.token, { jwks: newKeys })).toMatchObject({ valid: true, keyId: newSeal.keyId });
    expect(verifySeal(seal.token, { jwks: newKeys })).toMatchObject({ valid: true, keyId: seal.keyId }); // the old key still verifies what it sealed

    // A root that is not B's: B's statement is refused.
    const wrong = createPeerKeySource({ peers: { 'datarun-hub': { url: b.url, root: other.federationRoot()!.jwk } }, cacheDir: peerCacheDir(path.join(work, 'wrong')) });
    sources.push(wrong);
    await expect(wrong.keysOf('datarun-hub')).rejects.toMatchObject({ code: 'ERR_PEER_STATEMENT_REFUSED', reason: 'WRONG_ROOT' });

    // B's first statement replayed (by B's address, a proxy, a cache): older than the one accepted.
    const replaying = createPeerKeySource({ peers, cacheDir, fetch: async () => new Response(first, { status: 200 }) });
    sources.push(replaying);
    await expect(replaying.refresh('datarun-hub')).rejects.toMatchObject({ code: 'ERR_PEER_STATEMENT_REFUSED', reason: 'ROLLBACK' });

    // B down: A restarted verifies from its disk copy.
    await b.close();
    b = undefined;
    const restarted = createPeerKeySource({ peers, cacheDir });
    sources.push(restarted);
    const offline = await restarted.keysOf('datarun-hub', { kid: newSeal.keyId });
    expect(verifySeal(newSeal.token, { jwks: offline })).toMatchObject({ valid: true, issuer: 'tax', keyId: newSeal.keyId });
  });
});
