/**
 * Records of requests between hubs (跨域通办, docs/federation.md): `onBehalfOf` and
 * `federationRequestId` stored under the chain hash when given and absent otherwise (so records
 * without them hash as before), found by the federation id, shown to the citizen as made through
 * the other hub, exported as the last CSV columns.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { exportAuditRecords, openAuditLog, openAuditLogReader, verifyAuditLog, type AuditLog, type AuditLogOptions, type AuditRecord } from '../../../src/audit';
import { canonicalJson } from '../../../src/audit/canonical-json';
import { canonicalBody, chainHash, createSubjectKeyer, hashedValue, toStoredBody } from '../../../src/audit/record';
import { CITIZEN_A, createTestKeys, sampleRecord, tempDir } from '../../fixtures/audit/support';

const SECRET = 'a test subject-key secret of 32+ bytes';
const keys = createTestKeys();
const FEDERATION = '3f2b9c1e-7a4d-4e0b-9d2a-5c6f7e8a9b0c';
const OBO = { hub: 'taian', consumer: 'real-estate-centre', request: 'taian-req-1' };

describe('records of requests between hubs', () => {
  let dir: string;
  let remove: () => void;
  let log: AuditLog | undefined;

  beforeEach(() => ({ dir, remove } = tempDir()));
  afterEach(async () => {
    await log?.close();
    log = undefined;
    remove();
  });

  const open = (options: Partial<AuditLogOptions> = {}) => openAuditLog({ dir, instanceId: 'hub-1', subjectKeySecret: SECRET, sign: keys.sign, ...options });
  const lines = (): string[] =>
    readdirSync(dir)
      .filter((f) => /^audit-\d{12}\.jsonl$/.test(f))
      .sort()
      .flatMap((f) => readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean));

  it('stores onBehalfOf and the federation id only on such records, and a record without them hashes as it always did', async () => {
    log = await open();
    await log.append(sampleRecord({ requestId: 'plain' }));
    await log.append(sampleRecord({ requestId: 'peer', consumer: 'taian-hub', onBehalfOf: OBO, federationRequestId: FEDERATION }));
    await log.close();
    log = undefined;
    const [plain, peer] = lines();
    expect(plain).not.toContain('onBehalfOf');
    expect(plain).not.toContain('federationRequestId');
    const record = JSON.parse(peer!) as AuditRecord;
    expect(record).toMatchObject({ v: 3, consumer: 'taian-hub', onBehalfOf: OBO, federationRequestId: FEDERATION, hashed: [] });
    // The hash covers the new fields as any other: recomputed from the canonical body.
    expect(record.hash).toBe(chainHash(record.prev!, canonicalBody(record)));
    // A record without them: the canonical body is the same object's, with nothing added.
    const first = JSON.parse(plain!) as AuditRecord;
    expect(canonicalBody(first)).toBe(canonicalJson(Object.fromEntries(Object.entries(first).filter(([k]) => k !== 'hash'))));
    expect(await verifyAuditLog({ dir, verify: keys.verify })).toMatchObject({ ok: true, records: 2 });
  });

  it('fails verification when a stored onBehalfOf or federation id is changed', async () => {
    log = await open();
    await log.append(sampleRecord({ requestId: 'peer', consumer: 'taian-hub', onBehalfOf: OBO, federationRequestId: FEDERATION }));
    await log.append(sampleRecord({ requestId: 'after' }));
    await log.close();
    log = undefined;
    const file = readdirSync(dir).find((f) => /^audit-\d{12}\.jsonl$/.test(f))!;
    const original = readFileSync(path.join(dir, file), 'utf8');
    for (const [from, to] of [['"consumer":"real-estate-centre"', '"consumer":"civil-affairs"'], [FEDERATION, FEDERATION.replace('3f', '4f')]] as const) {
      writeFileSync(path.join(dir, file), original.replace(from, to));
      const report = await verifyAuditLog({ dir, verify: keys.verify });
      expect(report.ok).toBe(false);
      expect(report.problem!.seq).toBe(1);
    }
    writeFileSync(path.join(dir, file), original);
    expect((await verifyAuditLog({ dir, verify: keys.verify })).ok).toBe(true);
  });

  it('stores what cannot be stored as given as its hash, naming the field, and refuses a malformed shape (a programming error)', async () => {
    log = await open();
    await log.append(sampleRecord({ onBehalfOf: { ...OBO, consumer: 'a\nb' }, federationRequestId: 'x'.repeat(300) }));
    const record = JSON.parse(lines()[0]!) as AuditRecord;
    expect(record.onBehalfOf).toEqual({ ...OBO, consumer: hashedValue('a\nb') });
    expect(record.federationRequestId).toBe(hashedValue('x'.repeat(300)));
    expect(record.hashed).toEqual(['federationRequestId', 'onBehalfOf']);
    await expect(log.append(sampleRecord({ onBehalfOf: 'taian' as never }))).rejects.toMatchObject({ code: 'AUDIT_RECORD_INVALID' });
    await expect(log.append(sampleRecord({ onBehalfOf: { hub: 'taian', consumer: 'x' } as never }))).rejects.toMatchObject({ code: 'AUDIT_RECORD_INVALID' });
  });

  it('never throws on client text in onBehalfOf and the federation id, and always stores storable text (property)', () => {
    const keyer = createSubjectKeyer(SECRET);
    const text = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom('', '\u2028', 'a\ud800'));
    fc.assert(
      fc.property(text, text, text, text, (hub, consumer, request, federation) => {
        const body = toStoredBody(sampleRecord({ onBehalfOf: { hub, consumer, request }, federationRequestId: federation }), keyer);
        for (const value of [...Object.values(body.onBehalfOf!), body.federationRequestId!]) {
          expect(value.length).toBeGreaterThan(0);
          expect(value.length <= 256 || value.startsWith('sha256:')).toBe(true);
          expect(/[\u0000-\u001f\u2028\u2029]/.test(value)).toBe(false);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('finds every record of a federation request by its id, combined with other filters, from the running log and a reader', async () => {
    log = await open();
    await log.append(sampleRecord({ requestId: 'a', consumer: 'taian-hub', onBehalfOf: OBO, federationRequestId: FEDERATION }));
    await log.append(sampleRecord({ requestId: 'b' }));
    await log.append(sampleRecord({ requestId: 'c', consumer: 'taian-hub', onBehalfOf: { ...OBO, request: 'taian-req-2' }, federationRequestId: 'other-federation-id' }));
    await log.append(sampleRecord({ requestId: 'd', consumer: 'taian-hub', outcome: 'DENIED', errorCodes: ['REPLAYED'], onBehalfOf: OBO, federationRequestId: FEDERATION }));
    const ids = async (reader: Pick<AuditLog, 'queryAccessLog'>, filter: object) => (await reader.queryAccessLog(filter)).edges.map((e) => e.node.requestId);
    expect(await ids(log, { federationRequestId: FEDERATION })).toEqual(['d', 'a']);
    expect(await ids(log, { federationRequestId: FEDERATION, outcome: 'GRANTED' })).toEqual(['a']);
    expect(await ids(log, { federationRequestId: 'none' })).toEqual([]);
    await log.close();
    log = undefined;
    const reader = await openAuditLogReader({ dir, subjectKeySecret: SECRET });
    expect(await ids(reader, { federationRequestId: FEDERATION })).toEqual(['d', 'a']);
    const exported: string[] = [];
    for await (const r of reader.records({ federationRequestId: 'other-federation-id' } as never)) exported.push(r.requestId);
    expect(exported).toEqual(['c']);
    await reader.close();
  });

  it("shows the citizen an access made through another hub as such, and null for one made here", async () => {
    log = await open();
    await log.append(sampleRecord({ caseNumber: 'HERE-1', subjects: [{ kind: 'PERSON', id: CITIZEN_A }] }));
    await log.append(sampleRecord({ consumer: 'taian-hub', caseNumber: 'TA-1', subjects: [{ kind: 'PERSON', id: CITIZEN_A }], onBehalfOf: OBO, federationRequestId: FEDERATION }));
    const view = await log.citizenAccesses(CITIZEN_A);
    expect(view.edges.map((e) => [e.node.caseNumber, e.node.consumer, e.node.via])).toEqual([
      ['TA-1', 'taian-hub', { hub: 'taian', consumer: 'real-estate-centre' }],
      ['HERE-1', 'civil-affairs', null],
    ]);
    // Never the other hub's request id or the federation id: the citizen sees who and through which hub.
    expect(JSON.stringify(view)).not.toContain(FEDERATION);
    expect(JSON.stringify(view)).not.toContain('taian-req-1');
  });

  it('exports the federation fields as the last CSV columns', async () => {
    log = await open();
    await log.append(sampleRecord({ requestId: 'plain' }));
    await log.append(sampleRecord({ requestId: 'peer', consumer: 'taian-hub', onBehalfOf: OBO, federationRequestId: FEDERATION }));
    await log.close();
    log = undefined;
    const out = path.join(dir, 'export.csv');
    await exportAuditRecords({ dir, filter: {}, format: 'csv', out, sign: keys.sign, verify: keys.verify, subjectKeySecret: SECRET });
    const [header, plain, peer] = readFileSync(out, 'utf8').split('\r\n');
    expect(header!.endsWith(',windowTo,federationRequestId,onBehalfOfHub,onBehalfOfConsumer,onBehalfOfRequest')).toBe(true);
    expect(plain!.endsWith(',,,,')).toBe(true);
    expect(peer!.endsWith(`,${FEDERATION},taian,real-estate-centre,taian-req-1`)).toBe(true);
  });
});
