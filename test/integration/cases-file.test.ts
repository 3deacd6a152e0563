/**
 * Pushed cases in a local file (the embedded mode): they survive closing and reopening; a line
 * the process did not finish is cut off; a damaged file is refused, naming the line; a closed
 * store refuses to work.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCaseService, defaultWorkingCalendar, openFileCaseStore, parseCaseDeadlines, type CaseService, type CaseStore } from '../../src/cases';

const calendar = defaultWorkingCalendar();
const deadlines = parseCaseDeadlines({ LICENCE_ISSUED: { claimDays: 3, feedbackDays: 10 } });
const at = (local: string): Date => new Date(`${local}+08:00`);
const OPENED = at('2026-03-06T10:00:00');
const event = (id: string) => ({ eventId: id, eventType: 'LICENCE_ISSUED', subject: { kind: 'ENTERPRISE' as const, id: '91350100M000100Y43' } });

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'datarun-cases-'));
  file = path.join(dir, 'cases.jsonl');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

async function open(): Promise<{ store: CaseStore; service: CaseService }> {
  const store = await openFileCaseStore(file);
  return { store, service: createCaseService({ store, calendar, deadlines }) };
}

describe('the case file', () => {
  it('survives closing and reopening: states, versions, listings and idempotent opening', async () => {
    const first = await open();
    const { cases } = await first.service.open(event('e1'), ['env-bureau', 'fire-safety'], OPENED);
    await first.service.claim(cases[0]!.caseId, 'env-bureau', 'officer-1', at('2026-03-09T09:00:00'));
    await first.service.report(cases[0]!.caseId, 'env-bureau', 'officer-1', { outcome: 'INSPECTED_COMPLIANT', note: '符合' }, at('2026-03-10T09:00:00'));
    const before = await first.service.list();
    await first.store.close();
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);

    const second = await open();
    expect(await second.service.list()).toEqual(before);
    expect(await second.service.get(cases[0]!.caseId)).toMatchObject({ state: 'REPORTED', version: 3, reported: { note: '符合' } });
    expect((await second.service.open(event('e1'), ['fire-safety'], at('2026-03-12T09:00:00'))).changes).toEqual([]);
    await expect(second.service.claim(cases[0]!.caseId, 'env-bureau', 'officer-1', at('2026-03-12T09:00:00'))).rejects.toMatchObject({ code: 'CASE_ALREADY_CLAIMED' });
    expect((await second.service.overdue('fire-safety', at('2026-03-12T09:00:00'))).map((o) => o.step)).toEqual(['CLAIM']);
    await second.service.claim(cases[1]!.caseId, 'fire-safety', 'officer-2', at('2026-03-12T09:00:00'));
    await second.store.close();

    const third = await open();
    expect(await third.service.get(cases[1]!.caseId)).toMatchObject({ state: 'CLAIMED', claimed: { late: true } });
    await third.store.close();
  });

  it('answers steps taken at once as one after the other would (their lines synced together), each durable when it answers', async () => {
    const first = await open();
    const ids = Array.from({ length: 12 }, (_, k) => `e${k}`);
    // Every event opened twice at once (a burst delivered to two webhooks): each case created once.
    const opened = await Promise.all([...ids, ...ids].map((id) => first.service.open(event(id), ['env-bureau'], OPENED)));
    expect(opened.filter((o) => o.changes.length > 0)).toHaveLength(12);
    for (const o of opened) expect(o.cases[0]).toMatchObject({ state: 'PUSHED', version: 1 });
    // Claimed by two officers at once: one claim wins, the other is refused.
    const caseId = opened[0]!.cases[0]!.caseId;
    const claims = await Promise.allSettled(['officer-1', 'officer-2'].map((officer) => first.service.claim(caseId, 'env-bureau', officer, at('2026-03-09T09:00:00'))));
    expect(claims.filter((c) => c.status === 'fulfilled')).toHaveLength(1);
    expect(claims.find((c) => c.status === 'rejected')).toMatchObject({ reason: { code: 'CASE_ALREADY_CLAIMED' } });
    const before = await first.service.list();
    expect(before).toHaveLength(12);
    await first.store.close();
    const second = await open();
    expect(await second.service.list()).toEqual(before);
    await second.store.close();
  });

  it('cuts off a last line the process did not finish, and keeps appending after it', async () => {
    const first = await open();
    const { cases } = await first.service.open(event('e1'), ['env-bureau'], OPENED);
    await first.store.close();
    const whole = fs.readFileSync(file, 'utf8');
    fs.appendFileSync(file, '{"caseId":"case-torn","ver');

    const second = await open();
    expect(fs.readFileSync(file, 'utf8')).toBe(whole);
    await second.service.claim(cases[0]!.caseId, 'env-bureau', 'officer-1', at('2026-03-09T09:00:00'));
    await second.store.close();
    const third = await open();
    expect((await third.service.get(cases[0]!.caseId))!.state).toBe('CLAIMED');
    await third.store.close();
  });

  it('refuses a damaged file, naming the line', async () => {
    const first = await open();
    const { cases } = await first.service.open(event('e1'), ['env-bureau'], OPENED);
    await first.service.claim(cases[0]!.caseId, 'env-bureau', 'officer-1', at('2026-03-09T09:00:00'));
    await first.store.close();
    const lines = fs.readFileSync(file, 'utf8').split('\n');

    fs.writeFileSync(file, `${lines[0]}\nnot json\n`);
    await expect(openFileCaseStore(file)).rejects.toMatchObject({ code: 'CASES_STORE_CORRUPT', message: expect.stringContaining('line 2: not JSON') });
    // A claim without its opening: the versions do not follow each other.
    fs.writeFileSync(file, `${lines[1]}\n`);
    await expect(openFileCaseStore(file)).rejects.toMatchObject({ code: 'CASES_STORE_CORRUPT', message: expect.stringContaining('line 1: version 2') });
    fs.writeFileSync(file, `${lines[0]}\n${lines[0]}\n`);
    await expect(openFileCaseStore(file)).rejects.toMatchObject({ code: 'CASES_STORE_CORRUPT', message: expect.stringContaining('line 2') });
    fs.writeFileSync(file, '{"caseId":"x","version":1}\n');
    await expect(openFileCaseStore(file)).rejects.toMatchObject({ code: 'CASES_STORE_CORRUPT', message: expect.stringContaining('line 1: not a case') });
  });

  it('refuses to work once closed, and names a file it cannot open', async () => {
    const { store, service } = await open();
    await store.close();
    await expect(service.open(event('e1'), ['env-bureau'], OPENED)).rejects.toMatchObject({ code: 'CASES_STORE_UNAVAILABLE', message: expect.stringContaining('is closed') });
    await expect(openFileCaseStore(path.join(dir, 'missing', 'cases.jsonl'))).rejects.toMatchObject({ code: 'CASES_STORE_UNAVAILABLE', message: expect.stringContaining('ENOENT') });
  });
});
