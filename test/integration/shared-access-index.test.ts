/**
 * Two hub instances on one Redis and one index database (real redis-server, real PostgreSQL):
 * the auditor's search and the citizen's view are complete (records of both instances) from
 * either instance; the index catches up after PostgreSQL was down, losing and duplicating
 * nothing; a tampered index row cannot make a wrong record appear; the index can be rebuilt
 * from the chains.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { generateSeed, startSandboxes, type SandboxSet } from '../../departments';
import { createChainReader, createSubjectKeyer, openSharedAccessIndex, verifyAuditLog } from '../../src/audit';
import { runAuditExportAll, runAuditVerify } from '../../src/cli/audit';
import { runAuditReindex } from '../../src/cli/audit-index';
import { propertyTransferExample } from '../../src/cli/examples';
import { createDataRunClient, type DataRunClient } from '../../src/client';
import { auditSigner, auditSubjectSecret, auditVerifier } from '../../src/gateway/audit';
import { createConsentSigner, createKeyStore, type KeyStore, type PrivateJwk } from '../../src/seal';
import { freshDatabase, startPostgresServer, type PostgresServer } from '../support/postgres';
import { rootFromPath } from '../support/rfc9162';
import { eventually, startHubInProcess, startRedisServer, type InProcessHub, type RedisServer } from '../support/redis';
import { WITH_DEPARTMENTS } from '../support/keys';

const AUDIT = { purpose: 'AUDIT', caseNumber: 'SJ-2026-0100', operator: '审计员-赵强' };
const VIEW = { purpose: 'CITIZEN_ACCESS_VIEW', caseNumber: 'YC-2026-0100', operator: '窗口-陈静' };
const TRANSFER = { purpose: 'PROPERTY_TRANSFER', operator: '窗口-王芳' };
// Generous: a deadline that only catches a hang, never a measure of speed.
const INDEX_DEADLINE_MS = 60_000;

const dir = mkdtempSync(path.join(tmpdir(), 'datarun-shared-index-'));
const keysDir = path.join(dir, 'keys');
const auditDir = path.join(dir, 'audit');
const data = generateSeed({ seed: 1, size: 200 });
const person = propertyTransferExample(data).buyer;
let redis: RedisServer;
let pg: PostgresServer;
let indexUrl: string;
let sandboxes: SandboxSet;
let keyStore: KeyStore;
let a: InProcessHub;
let b: InProcessHub;

beforeAll(async () => {
  [redis, pg, sandboxes, keyStore] = await Promise.all([startRedisServer({ appendonly: true }), startPostgresServer(), startSandboxes(data), createKeyStore(keysDir, WITH_DEPARTMENTS)]);
  auditSubjectSecret(keysDir);
  indexUrl = await freshDatabase(pg);
  const config = (instanceId: string) => ({
    keys: { dir: keysDir },
    redis: { url: redis.url, commandTimeoutMs: 5000, connectTimeoutMs: 10_000 },
    audit: { dir: auditDir, instanceId, checkpointEveryMs: 500, index: { url: indexUrl } },
  });
  a = await startHubInProcess(sandboxes, redis.url, config('hub-a'));
  b = await startHubInProcess(sandboxes, redis.url, config('hub-b'));
});

afterAll(async () => {
  await Promise.allSettled([a?.close(), b?.close()]);
  await Promise.allSettled([sandboxes?.close(), redis?.stop(), pg?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

const clients = new Map<string, DataRunClient>();
function client(hub: InProcessHub, consumer: string): DataRunClient {
  const key = `${hub.url}/${consumer}`;
  if (!clients.has(key)) clients.set(key, createDataRunClient({ hubUrl: hub.url, consumerId: consumer, keyFile: keyStore.privateKeyPath(consumer)! }));
  return clients.get(key)!;
}

function consent(subject: string): string {
  const jwk = JSON.parse(readFileSync(keyStore.privateKeyPath('citizen-identity')!, 'utf8')) as PrivateJwk;
  return createConsentSigner({ issuer: 'citizen-identity', privateJwk: jwk }).sign({ subject, purpose: 'CITIZEN_ACCESS_VIEW', expiresAt: Date.now() + 600_000 });
}

/** Reads a person as the real-estate centre through one instance; returns the instance and seq of its record (from the receipt). */
async function access(hub: InProcessHub, caseNumber: string, id = person): Promise<{ instance: string; seq: number }> {
  const c = client(hub, 'real-estate-centre');
  const reply = await c.query<any>('query($b: ID!) { person(idNumber: $b) { name } }', { b: id }, { ...TRANSFER, caseNumber });
  expect(reply.status).toBe(200);
  const verified = await c.verifyReply(reply);
  if (!verified.valid) throw new Error(`receipt did not verify: ${verified.reason}`);
  return { instance: hub === a ? 'hub-a' : 'hub-b', seq: verified.receipt.auditSeq! };
}

interface Node {
  instance: string;
  seq: number;
  time: string;
  consumer: string | null;
  caseNumber: string | null;
}

async function auditorReads(hub: InProcessHub, filter: Record<string, unknown>, first = 100, after: string | null = null) {
  const reply = await client(hub, 'auditor').query<any>(
    'query($f: AccessLogFilter, $n: Int, $a: String) { accessLog(filter: $f, first: $n, after: $a) { edges { cursor node { instance seq time consumer caseNumber } } pageInfo { hasNextPage endCursor } } }',
    { f: filter, n: first, a: after },
    AUDIT,
  );
  if (reply.errors) throw new Error(JSON.stringify(reply.errors));
  return reply.data.accessLog as { edges: { cursor: string; node: Node }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

async function citizenView(hub: InProcessHub, id = person): Promise<{ caseNumber: string; consumer: string; time: string }[]> {
  const reply = await client(hub, 'one-window-hall').query<any>(
    'query($id: ID!) { dataAccesses(idNumber: $id, first: 100) { edges { node { time consumer purpose caseNumber departments outcome } } } }',
    { id },
    { ...VIEW, consents: [consent(id)] },
  );
  if (reply.errors) throw new Error(JSON.stringify(reply.errors));
  return reply.data.dataAccesses.edges.map((e: any) => e.node);
}

async function sql<T extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  const db = new Client({ connectionString: indexUrl });
  await db.connect();
  try {
    return (await db.query<T>(text, params)).rows;
  } finally {
    await db.end();
  }
}

/** Every instance's rows are exactly seqs 1..progress: nothing lost, nothing twice. */
async function expectContiguous(): Promise<void> {
  const rows = await sql<{ instance: string; n: string; distinct_seqs: string; max: string; progress: string }>(
    `SELECT i.instance, count(*) AS n, count(DISTINCT i.seq) AS distinct_seqs, max(i.seq) AS max, p.seq AS progress
     FROM audit_index i JOIN audit_index_progress p USING (instance) GROUP BY i.instance, p.seq ORDER BY i.instance`,
  );
  expect(rows.map((r) => r.instance)).toEqual(['hub-a', 'hub-b']);
  for (const r of rows) {
    expect(Number(r.n)).toBe(Number(r.max));
    expect(Number(r.distinct_seqs)).toBe(Number(r.max));
    expect(Number(r.progress)).toBe(Number(r.max));
  }
}

describe('the shared auditor index', () => {
  it('creates its schema once, versioned, whichever instance started first', async () => {
    const versions = await sql<{ version: number }>('SELECT version FROM audit_index_migrations ORDER BY version');
    expect(versions.map((v) => v.version)).toEqual([1, 2]);
  });

  it('finds the records of a federation request on both instances by its id, and shows the citizen the other hub (docs/federation.md)', async () => {
    const federation = `fed-${Date.now()}`;
    for (const [hub, caseNumber, request] of [[a, 'IDX-FED-A', 'taian-1'], [b, 'IDX-FED-B', 'taian-2']] as const) {
      const reply = await client(hub, 'taian-hub').query<any>('query($b: ID!) { person(idNumber: $b) { name } }', { b: person }, { ...TRANSFER, caseNumber, onBehalfOf: { hub: 'taian', consumer: 'real-estate-centre', request, federation } });
      expect(reply.status).toBe(200);
    }
    for (const hub of [a, b]) {
      await eventually(async () => (await auditorReads(hub, { federationRequestId: federation })).edges.length === 2, 'both records of the federation request in the index', INDEX_DEADLINE_MS);
      const { edges } = await auditorReads(hub, { federationRequestId: federation });
      expect(edges.map((e) => [e.node.caseNumber, e.node.instance, e.node.consumer])).toEqual([['IDX-FED-B', 'hub-b', 'taian-hub'], ['IDX-FED-A', 'hub-a', 'taian-hub']]);
      const reply = await client(hub, 'one-window-hall').query<any>('query($id: ID!) { dataAccesses(idNumber: $id, first: 100) { edges { node { caseNumber via { hub consumer } } } } }', { id: person }, { ...VIEW, consents: [consent(person)] });
      const nodes = reply.data.dataAccesses.edges.map((e: any) => e.node);
      expect(nodes.find((n: any) => n.caseNumber === 'IDX-FED-B')).toEqual({ caseNumber: 'IDX-FED-B', via: { hub: 'taian', consumer: 'real-estate-centre' } });
      expect(nodes.find((n: any) => n.caseNumber === 'IDX-FED-A')).toEqual({ caseNumber: 'IDX-FED-A', via: { hub: 'taian', consumer: 'real-estate-centre' } });
    }
    const rows = await sql<{ n: string }>('SELECT count(*) AS n FROM audit_index WHERE federation_request_id = $1', [federation]);
    expect(Number(rows[0]!.n)).toBe(2);
  });

  it('answers the auditor and the citizen with the records of both instances, from either instance, newest first', async () => {
    const onA = await access(a, 'IDX-A-1');
    const onB = await access(b, 'IDX-B-1');
    const onA2 = await access(a, 'IDX-A-2');
    const expected = ['IDX-A-1', 'IDX-B-1', 'IDX-A-2'];
    for (const hub of [a, b]) {
      await eventually(async () => {
        const page = await auditorReads(hub, { subject: { kind: 'PERSON', id: person } });
        const cases = page.edges.map((e) => e.node.caseNumber);
        return expected.every((c) => cases.includes(c));
      }, 'both instances\' records in the auditor\'s search', INDEX_DEADLINE_MS);
      const { edges } = await auditorReads(hub, { subject: { kind: 'PERSON', id: person }, consumer: 'real-estate-centre' });
      const mine = edges.map((e) => e.node).filter((n) => expected.includes(n.caseNumber!));
      // Each record is the one the receipt named, read back from its own instance's chain.
      expect(mine.map((n) => [n.caseNumber, n.instance, n.seq])).toEqual([
        ['IDX-A-2', onA2.instance, onA2.seq],
        ['IDX-B-1', onB.instance, onB.seq],
        ['IDX-A-1', onA.instance, onA.seq],
      ]);
      const times = edges.map((e) => Date.parse(e.node.time));
      expect([...times].sort((x, y) => y - x)).toEqual(times);

      const view = await citizenView(hub);
      expect(view.map((n) => n.caseNumber)).toEqual(expect.arrayContaining(expected));
      expect(view.find((n) => n.caseNumber === 'IDX-B-1')).toMatchObject({ consumer: 'real-estate-centre' });
    }
  });

  it('proves a record of either instance from either instance: another instance\'s proof leads to the root that instance signed', async () => {
    const b64 = (h: string) => Buffer.from(h, 'base64url');
    const target = await access(b, 'IDX-PROOF-B');
    const verify = auditVerifier({ keyStore });
    for (const hub of [a, b]) {
      let proof: any;
      await eventually(async () => {
        const reply = await client(hub, 'auditor').query<any>(
          'query($i: String!, $s: Int!) { auditProof(instance: $i, seq: $s) { instance seq leafIndex treeSize leafHash path root head { instance size root jws } } }',
          { i: target.instance, s: target.seq },
          AUDIT,
        );
        proof = reply.data?.auditProof;
        return !!proof;
      }, `a signed head of ${target.instance} covering seq ${target.seq}`, INDEX_DEADLINE_MS);
      expect(proof).toMatchObject({ instance: 'hub-b', seq: target.seq, leafIndex: target.seq - 1 });
      expect(rootFromPath(proof.leafIndex, proof.treeSize, b64(proof.leafHash), proof.path.map(b64))?.toString('base64url')).toBe(proof.root);
      const signed = await verify(proof.head.jws);
      expect(signed).toMatchObject({ valid: true, payload: expect.objectContaining({ instance: 'hub-b', size: proof.treeSize, root: proof.root }) });
    }
    const heads = await client(a, 'auditor').query<any>('{ auditHeads { instance size } }', {}, AUDIT);
    expect(heads.data.auditHeads.map((h: { instance: string }) => h.instance)).toEqual(['hub-a', 'hub-b']);
  });

  it('pages across instances with cursors, each record once', async () => {
    const all = await auditorReads(a, {}, 500);
    expect(new Set(all.edges.map((e) => e.node.instance))).toEqual(new Set(['hub-a', 'hub-b']));
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 1000; i++) {
      const page = await auditorReads(b, {}, 2, after);
      seen.push(...page.edges.map((e) => `${e.node.instance}/${e.node.seq}`));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    // Later auditor reads are records too, newer than the cursor: the walk sees the older ones exactly once.
    const before = all.edges.map((e) => `${e.node.instance}/${e.node.seq}`);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((k) => before.includes(k))).toEqual(before);
  });

  it('catches up after PostgreSQL was down: requests are served meanwhile, then every record is indexed once', async () => {
    await pg.halt();
    try {
      const outage = [await access(a, 'IDX-OUTAGE-A'), await access(b, 'IDX-OUTAGE-B'), await access(a, 'IDX-OUTAGE-A2')];
      expect(outage.every((r) => r.seq > 0)).toBe(true);
      // The index cannot answer meanwhile: the query fails rather than answering from one chain.
      const reply = await client(a, 'auditor').query<any>('{ accessLog(first: 1) { edges { node { seq } } } }', {}, AUDIT);
      expect(reply.errors?.[0]?.extensions?.code).toBe('AUDIT_UNAVAILABLE');
    } finally {
      await pg.resume();
    }
    for (const hub of [b, a]) {
      await eventually(async () => {
        const cases = (await auditorReads(hub, { subject: { kind: 'PERSON', id: person } })).edges.map((e) => e.node.caseNumber);
        return ['IDX-OUTAGE-A', 'IDX-OUTAGE-B', 'IDX-OUTAGE-A2'].every((c) => cases.includes(c));
      }, 'the records written while PostgreSQL was down', INDEX_DEADLINE_MS);
    }
    await eventually(async () => {
      // The auditor's own reads above are records too: wait until the index holds every record either chain holds.
      const progress = await sql<{ instance: string; seq: string }>('SELECT instance, seq FROM audit_index_progress');
      const heads = { 'hub-a': a.gateway.audit!.health().seq, 'hub-b': b.gateway.audit!.health().seq } as Record<string, number>;
      return progress.length === 2 && progress.every((p) => Number(p.seq) === heads[p.instance]);
    }, 'the index to reach both chains\' heads', INDEX_DEADLINE_MS);
    await expectContiguous();
  });

  it('never shows a wrong record for a tampered row: a changed consumer or an added subject only hides or misses', async () => {
    const target = await access(a, 'IDX-TAMPER-1');
    const other = data.persons.find((p) => p.idNumber !== person)!.idNumber;
    await eventually(async () => (await sql('SELECT 1 FROM audit_index WHERE instance = $1 AND seq = $2', [target.instance, target.seq])).length === 1, 'the row', INDEX_DEADLINE_MS);
    // The row now claims another consumer, and another citizen as subject.
    const otherKey = createSubjectKeyer(auditSubjectSecret(keysDir)).key({ kind: 'PERSON', id: other });
    await sql(`UPDATE audit_index SET consumer = 'tax-bureau', subject_keys = subject_keys || $3::jsonb WHERE instance = $1 AND seq = $2`, [target.instance, target.seq, JSON.stringify([otherKey])]);
    for (const hub of [a, b]) {
      const byConsumer = await auditorReads(hub, { consumer: 'tax-bureau', caseNumber: 'IDX-TAMPER-1' });
      expect(byConsumer.edges).toEqual([]);
      const byOther = await auditorReads(hub, { subject: { kind: 'PERSON', id: other }, caseNumber: 'IDX-TAMPER-1' });
      expect(byOther.edges).toEqual([]);
      expect((await citizenView(hub, other)).map((n) => n.caseNumber)).not.toContain('IDX-TAMPER-1');
      // Its true consumer's search no longer finds it through the row (hidden, which verification of the chains, not the index, is for).
      const byTrue = await auditorReads(hub, { consumer: 'real-estate-centre', caseNumber: 'IDX-TAMPER-1' });
      expect(byTrue.edges).toEqual([]);
    }
  });

  it('is rebuilt from the chains (Redis streams and archive files) by `datarun audit reindex` after its rows are lost', async () => {
    const { createSharedState } = await import('../../src/state');
    const state = createSharedState({ redis: { url: redis.url, keyPrefix: 'datarun:', commandTimeoutMs: 5000, connectTimeoutMs: 10_000 } as never, rateLimits: () => undefined });
    try {
      await state.waitUntilReady(10_000);
      // The archiver has trimmed the oldest records from Redis: those are read from the archive files.
      for (const instance of ['hub-a', 'hub-b']) {
        await eventually(async () => (await state.streams!.range(`audit:{${instance}}:records`, '1-0', '1-0')).length === 0, `${instance}'s first record trimmed from Redis`, INDEX_DEADLINE_MS);
      }
    } finally {
      await state.close();
    }
    const configFile = path.join(dir, 'reindex.json');
    writeFileSync(configFile, JSON.stringify({ keys: { dir: keysDir }, redis: { url: redis.url, connectTimeoutMs: 10_000 }, audit: { dir: auditDir, index: { url: indexUrl } } }));
    const heads = { 'hub-a': a.gateway.audit!.health().seq, 'hub-b': b.gateway.audit!.health().seq };
    const lines: string[] = [];
    const stdout = { write: (t: string) => lines.push(t) };

    // hub-b's rows and progress lost: indexed again from its chain, from its first record.
    await sql("DELETE FROM audit_index WHERE instance = 'hub-b'");
    await sql("DELETE FROM audit_index_progress WHERE instance = 'hub-b'");
    const again = await runAuditReindex({ config: configFile, env: {}, stdout });
    expect(again.exitCode).toBe(0);
    expect(again.indexed['hub-b']).toBeGreaterThanOrEqual(heads['hub-b']);
    await expectContiguous();

    // Everything lost: --rebuild empties the index and indexes every chain from its start.
    await sql('DELETE FROM audit_index');
    lines.length = 0;
    const rebuilt = await runAuditReindex({ config: configFile, rebuild: true, env: {}, stdout });
    expect(rebuilt.indexed['hub-a']).toBeGreaterThanOrEqual(heads['hub-a']);
    expect(rebuilt.indexed['hub-b']).toBeGreaterThanOrEqual(heads['hub-b']);
    expect(lines).toEqual([`hub-a: indexed through seq ${rebuilt.indexed['hub-a']}\n`, `hub-b: indexed through seq ${rebuilt.indexed['hub-b']}\n`]);
    await expectContiguous();
    for (const hub of [a, b]) {
      const page = await auditorReads(hub, { caseNumber: 'IDX-B-1' });
      expect(page.edges.map((e) => e.node.instance)).toEqual(['hub-b']);
    }
  });

  it('verifies every instance\'s archived chain on its own and exports them merged by time (`datarun audit verify|export --all`)', async () => {
    const last = { a: await access(a, 'IDX-ARCHIVE-A'), b: await access(b, 'IDX-ARCHIVE-B') };
    const verify = auditVerifier({ keyStore });
    for (const { instance, seq } of [last.a, last.b]) {
      await eventually(async () => (await verifyAuditLog({ dir: path.join(auditDir, instance), verify })).lastSeq! >= seq, `${instance} archived through ${seq}`, INDEX_DEADLINE_MS);
    }
    const lines: string[] = [];
    const stdout = { write: (t: string) => lines.push(t) };
    const verified = await runAuditVerify({ dir: auditDir, all: true, verify, stdout });
    expect(verified.exitCode).toBe(0);
    expect(lines.filter((l) => l.startsWith('audit log ') && / valid, /.test(l)).map((l) => path.basename(l.split(':')[0]!.replace('audit log ', '')))).toEqual(['hub-a', 'hub-b']);
    expect(lines[lines.length - 1]).toBe(`audit logs under ${auditDir}: valid, 2 chains\n`);

    const out = path.join(dir, 'all.jsonl');
    const { exitCode, result } = await runAuditExportAll({ dir: auditDir, format: 'jsonl', out, sign: auditSigner(keyStore), verify, subjectKeySecret: auditSubjectSecret(keysDir), subject: person, stdout });
    expect(exitCode).toBe(0);
    const records = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { instance: string; seq: number; time: string; caseNumber: string });
    expect(new Set(records.map((r) => r.instance))).toEqual(new Set(['hub-a', 'hub-b']));
    expect(records.map((r) => r.caseNumber)).toEqual(expect.arrayContaining(['IDX-A-1', 'IDX-B-1', 'IDX-ARCHIVE-A', 'IDX-ARCHIVE-B']));
    const order = records.map((r) => [Date.parse(r.time), r.instance, r.seq] as const);
    const sorted = [...order].sort((x, y) => x[0] - y[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0) || x[2] - y[2]);
    expect(order).toEqual(sorted);
    expect(result.manifest.chains.map((c) => c.dir)).toEqual(['hub-a', 'hub-b']);
    expect(result.manifest.count).toBe(records.length);
    expect(JSON.stringify(result.manifest)).not.toContain(person);

    // One chain damaged in a copy of the archive: --all is INVALID and names it; the other still verifies.
    const copy = path.join(dir, 'copy');
    cpSync(auditDir, copy, { recursive: true });
    const segment = readdirSync(path.join(copy, 'hub-b')).find((f) => /^audit-\d+\.jsonl$/.test(f))!;
    const text = readFileSync(path.join(copy, 'hub-b', segment), 'utf8');
    writeFileSync(path.join(copy, 'hub-b', segment), text.replace('"real-estate-centre"', '"tax-bureau"'));
    lines.length = 0;
    const damaged = await runAuditVerify({ dir: copy, all: true, verify, stdout });
    expect(damaged.exitCode).not.toBe(0);
    expect(lines.find((l) => l.includes(`${path.join(copy, 'hub-a')}:`))).toContain(': valid, ');
    expect(lines.find((l) => l.includes(`${path.join(copy, 'hub-b')}:`))).toContain(': INVALID: ');
    expect(lines[lines.length - 1]).toBe(`audit logs under ${copy}: INVALID, 2 chains, 1 invalid: hub-b\n`);
  });

  it('forgets the rows of records past the retention period (checked at start and hourly)', async () => {
    const secret = auditSubjectSecret(keysDir);
    expect(Number((await sql<{ n: string }>('SELECT count(*) AS n FROM audit_index'))[0]!.n)).toBeGreaterThan(0);
    // A writer whose clock is 400 days ahead: every row is older than 180 days to it.
    const index = await openSharedAccessIndex({
      url: indexUrl,
      reader: createChainReader({ archiveRoot: path.join(dir, 'no-archive') }),
      subjectKeySecret: secret,
      instanceId: 'retention-probe',
      retentionDays: 180,
      now: () => new Date(Date.now() + 400 * 86_400_000),
    });
    try {
      await eventually(async () => Number((await sql<{ n: string }>('SELECT count(*) AS n FROM audit_index WHERE time < now()'))[0]!.n) === 0, 'old rows deleted', INDEX_DEADLINE_MS);
    } finally {
      await index.close();
    }
  });
});

