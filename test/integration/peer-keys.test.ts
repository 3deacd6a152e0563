/**
 * The peer key source over real HTTP: a peer's statement fetched, verified against the pinned
 * root, cached in memory and on disk; a rotation fetched again once; rollback, a foreign root,
 * an unreachable or silent peer refused or survived as the cache allows. Statements are signed
 * at set times so that the source's clock decides.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createPeerKeySource, peerCacheDir, PeerKeysUnavailableError, PeerUnknownError, type PeerKeySource } from '../../src/gateway';
import {
  createFederationStatementSigner,
  createKeyStore,
  createSealer,
  FEDERATION_STATEMENT_PATH,
  loadKeyStore,
  presentSeal,
  rotateKey,
  verifySeal,
  type KeyStore,
} from '../../src/seal';
import { WITH_DEPARTMENTS } from '../support/keys';
import { removeTempDirs, tempDir } from '../unit/seal/fixture';

const T0 = Date.parse('2026-03-01T08:00:00Z');
const at = (sec: number): number => T0 + sec * 1000;

/** A peer hub's well-known route, serving whatever statement the test sets; `mode` makes it fail or hang. */
interface StatementServer {
  readonly url: string;
  statement: string;
  mode: 'ok' | 'error' | 'hang';
  requests: number;
  close(): Promise<void>;
}

async function startStatementServer(statement: string): Promise<StatementServer> {
  const hanging: http.ServerResponse[] = [];
  const state = { statement, mode: 'ok' as StatementServer['mode'], requests: 0 };
  const server = http.createServer((req, res) => {
    if (req.url !== FEDERATION_STATEMENT_PATH) {
      res.writeHead(404).end();
      return;
    }
    state.requests += 1;
    if (state.mode === 'hang') hanging.push(res);
    else if (state.mode === 'error') res.writeHead(503).end('down');
    else res.writeHead(200, { 'content-type': 'application/jwt' }).end(state.statement);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

let b: KeyStore;
let bDir: string;
let server: StatementServer;
const sources: PeerKeySource[] = [];
let clock = at(60);

beforeAll(async () => {
  bDir = await tempDir();
  b = await createKeyStore(bDir, { ...WITH_DEPARTMENTS, now: new Date(T0) });
  server = await startStatementServer(createFederationStatementSigner({ keyStore: b }).statement(b.publicJwks(), at(0)));
});
afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await server?.close();
  await removeTempDirs();
});

async function source(cacheDir: string, options: { root?: unknown; url?: string; timeoutMs?: number } = {}): Promise<PeerKeySource> {
  const created = createPeerKeySource({
    peers: { 'datarun-hub': { url: options.url ?? server.url, root: (options.root ?? b.federationRoot()!.thumbprint) as string } },
    cacheDir,
    now: () => clock,
    refetchIntervalSec: 30,
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
  sources.push(created);
  return created;
}

const sealOf = (store: KeyStore, issuedAtMs: number): string =>
  presentSeal(createSealer({ keyStore: store }).sealRecord({ department: 'tax', recordType: 'TaxPayment', recordId: 'P-1', fields: { amount: 5 }, issuedAt: issuedAtMs }), ['amount']);

describe('the peer key source', () => {
  let cacheDir: string;
  let rotatedStatement: string;
  let firstStatement: string;
  let newKid: string;

  beforeAll(async () => {
    cacheDir = peerCacheDir(await tempDir());
    firstStatement = server.statement;
  });

  it('fetches the statement once, verifies it against the pinned root, keeps it in memory and on disk', async () => {
    clock = at(60);
    const peers = await source(cacheDir);
    const before = server.requests;
    const keys = await peers.keysOf('datarun-hub');
    expect(keys).toMatchObject({ hub: 'datarun-hub', issuedAt: new Date(at(0)), expiresAt: new Date(at(86_400)) });
    expect(verifySeal(sealOf(b, at(30)), { jwks: keys, now: clock })).toMatchObject({ valid: true, issuer: 'tax' });
    await peers.keysOf('datarun-hub');
    await peers.keysOf('datarun-hub', { kid: b.currentKeyId('tax', 'seal')! });
    expect(server.requests - before).toBe(1);
    expect((await readFile(join(cacheDir, 'datarun-hub.federation.jwt'), 'utf8')).trim()).toBe(firstStatement);
    await expect(peers.keysOf('city-x')).rejects.toBeInstanceOf(PeerUnknownError);
  });

  it('fetches again for a kid it does not know (a rotation), once for many callers, and not again within the interval', async () => {
    clock = at(120);
    const peers = await source(cacheDir);
    await peers.keysOf('datarun-hub');
    const rotated = await rotateKey(bDir, 'tax', { use: 'seal', now: new Date(at(100)) });
    newKid = rotated.created[0]!;
    const b2 = await loadKeyStore(bDir, { now: new Date(at(100)) });
    rotatedStatement = createFederationStatementSigner({ keyStore: b2 }).statement(b2.publicJwks(), at(110));
    server.statement = rotatedStatement;
    const seal = sealOf(b2, at(115));
    const before = server.requests;
    const all = await Promise.all(Array.from({ length: 20 }, () => peers.keysOf('datarun-hub', { kid: newKid })));
    expect(server.requests - before).toBe(1);
    for (const keys of all) expect(verifySeal(seal, { jwks: keys, now: clock })).toMatchObject({ valid: true, keyId: newKid });
    // A kid nobody has: within the interval, no fetch storm.
    for (let i = 0; i < 10; i += 1) expect((await peers.keysOf('datarun-hub', { kid: 'tax.seal.unknown' })).resolveKey('tax.seal.unknown')).toBeUndefined();
    expect(server.requests - before).toBe(1);
    clock = at(120 + 31);
    await peers.keysOf('datarun-hub', { kid: 'tax.seal.unknown' });
    expect(server.requests - before).toBe(2);
  });

  it('refuses an older statement than the one accepted (rollback), keeping the newer, also after a restart from disk', async () => {
    clock = at(300);
    const peers = await source(cacheDir);
    expect((await peers.keysOf('datarun-hub')).issuedAt).toEqual(new Date(at(110)));
    server.statement = firstStatement;
    await expect(peers.refresh('datarun-hub')).rejects.toMatchObject({ code: 'ERR_PEER_STATEMENT_REFUSED', reason: 'ROLLBACK' });
    expect((await peers.keysOf('datarun-hub')).resolveKey(newKid)).toBeDefined();
    // Past the cached statement's expiry, a restarted source still remembers how new it was: an
    // older statement of the peer's, signed for a week and so still valid, is refused.
    const b1 = await loadKeyStore(bDir, { now: new Date(at(50)) });
    server.statement = createFederationStatementSigner({ keyStore: b1, lifetimeSec: 7 * 86_400 }).statement(b.publicJwks(), at(50));
    clock = at(110 + 86_400 + 120);
    const restarted = await source(cacheDir);
    await expect(restarted.keysOf('datarun-hub')).rejects.toMatchObject({ reason: 'ROLLBACK' });
    server.statement = rotatedStatement;
  });

  it('verifies offline from the disk copy after a restart, with the peer down, and says so when the copy has expired', async () => {
    clock = at(600);
    server.mode = 'error';
    const restarted = await source(cacheDir);
    const before = server.requests;
    const keys = await restarted.keysOf('datarun-hub', { kid: newKid });
    expect(verifySeal(sealOf(await loadKeyStore(bDir), at(500)), { jwks: keys, now: clock })).toMatchObject({ valid: true, keyId: newKid });
    // An unknown kid tries the peer once, then answers from the copy.
    expect((await restarted.keysOf('datarun-hub', { kid: 'tax.seal.unknown' })).resolveKey(newKid)).toBeDefined();
    expect(server.requests - before).toBeLessThanOrEqual(1);

    clock = at(110 + 86_400 + 61);
    const late = await source(cacheDir);
    await expect(late.keysOf('datarun-hub')).rejects.toBeInstanceOf(PeerKeysUnavailableError);
    const count = server.requests;
    for (let i = 0; i < 10; i += 1) await expect(late.keysOf('datarun-hub')).rejects.toBeInstanceOf(PeerKeysUnavailableError);
    expect(server.requests).toBe(count);
    server.mode = 'ok';
  });

  it('refuses a statement not signed by the pinned root, whether or not keys are cached', async () => {
    clock = at(60);
    const other = await createKeyStore(await tempDir(), { ...WITH_DEPARTMENTS, now: new Date(T0) });
    const foreign = await startStatementServer(createFederationStatementSigner({ keyStore: other }).statement(other.publicJwks(), at(0)));
    try {
      const peers = await source(peerCacheDir(await tempDir()), { url: foreign.url });
      await expect(peers.keysOf('datarun-hub')).rejects.toMatchObject({ code: 'ERR_PEER_STATEMENT_REFUSED', reason: 'WRONG_ROOT' });
      const cached = await source(cacheDir, { url: foreign.url });
      clock = at(200);
      await expect(cached.refresh('datarun-hub')).rejects.toMatchObject({ reason: 'WRONG_ROOT' });
      expect((await cached.keysOf('datarun-hub')).resolveKey(newKid)).toBeDefined();
    } finally {
      await foreign.close();
    }
  });

  it('gives up on a peer that does not answer within the deadline', async () => {
    clock = at(60);
    server.mode = 'hang';
    try {
      const peers = await source(peerCacheDir(await tempDir()), { timeoutMs: 300 });
      await expect(peers.keysOf('datarun-hub')).rejects.toMatchObject({ code: 'ERR_PEER_UNAVAILABLE' });
    } finally {
      server.mode = 'ok';
    }
  });

  it('refuses a statement larger than 1 MiB, declared or streamed, and uses a statement it cannot write to disk from memory', async () => {
    clock = at(60);
    const saved = server.statement;
    server.statement = 'x'.repeat(1024 * 1024 + 10);
    try {
      const peers = await source(peerCacheDir(await tempDir()));
      await expect(peers.keysOf('datarun-hub')).rejects.toMatchObject({ code: 'ERR_PEER_UNAVAILABLE', message: expect.stringContaining('larger than 1048576 bytes') });
    } finally {
      server.statement = saved;
    }
    const chunk = new Uint8Array(64 * 1024).fill(120);
    let sent = 0;
    const streaming: typeof fetch = async () =>
      new Response(new ReadableStream({ pull: (c) => (sent++ < 40 ? c.enqueue(chunk) : c.close()) }), { status: 200 });
    const streamed = createPeerKeySource({ peers: { 'datarun-hub': { url: server.url, root: b.federationRoot()!.thumbprint } }, cacheDir: peerCacheDir(await tempDir()), fetch: streaming, now: () => clock });
    sources.push(streamed);
    await expect(streamed.keysOf('datarun-hub')).rejects.toMatchObject({ code: 'ERR_PEER_UNAVAILABLE', message: expect.stringContaining('larger than') });
    expect(sent).toBeLessThan(40);

    // The cache directory is a file: the keys are used all the same, and the failure is reported.
    const blocked = join(await tempDir(), 'file');
    await writeFile(blocked, 'not a directory');
    const problems: string[] = [];
    const unwritable = createPeerKeySource({ peers: { 'datarun-hub': { url: server.url, root: b.federationRoot()!.thumbprint } }, cacheDir: join(blocked, 'peers'), now: () => clock, onCacheError: (peer) => problems.push(peer) });
    sources.push(unwritable);
    expect((await unwritable.keysOf('datarun-hub')).hub).toBe('datarun-hub');
    expect(problems).toEqual(['datarun-hub']);
  });

  it('refuses a trust list with a root that is neither a public JWK nor a thumbprint, and serves nothing once closed', async () => {
    expect(() => createPeerKeySource({ peers: { 'city-b': { url: server.url, root: 'nope' } }, cacheDir })).toThrow(/RFC 7638 SHA-256 thumbprint/);
    const peers = await source(cacheDir);
    await peers.close();
    await expect(peers.keysOf('datarun-hub')).rejects.toMatchObject({ code: 'ERR_PEER_UNAVAILABLE', message: 'the peer key source is closed' });
  });
});
