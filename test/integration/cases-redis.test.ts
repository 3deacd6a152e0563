/**
 * Pushed cases in Redis, seen from two instances (two shared states, two connections, one
 * server): concurrent claims and reports of one case, exactly one succeeding; concurrent
 * openings of one event giving one case; listings and the overdue cases across instances; the
 * same on a Redis Cluster (a namespace's keys share one slot, so its scripts run there).
 */
import { createCaseService, createDocumentCaseStore, defaultWorkingCalendar, parseCaseDeadlines, ALL_DEPARTMENTS, type CaseService } from '../../src/cases';
import { createSharedState, type SharedState } from '../../src/state';
import { HANG_DEADLINE_MS } from '../support/deadline';
import { startRedisCluster, startRedisServer, type RedisServer } from '../support/redis';

let redis: RedisServer;
const states: SharedState[] = [];
const calendar = defaultWorkingCalendar();
const deadlines = parseCaseDeadlines({ LICENCE_ISSUED: { claimDays: 3, feedbackDays: 10 } });
const at = (local: string): Date => new Date(`${local}+08:00`);
const OPENED = at('2026-03-06T10:00:00');
const event = (id: string) => ({ eventId: id, eventType: 'LICENCE_ISSUED', subject: { kind: 'ENTERPRISE' as const, id: '91350100M000100Y43' } });

async function instance(): Promise<CaseService> {
  // A busy machine may hold a command past the default 500 ms: these tests are about who wins, not how fast.
  const state = createSharedState({ redis: { url: redis.url, commandTimeoutMs: 5000 }, rateLimits: () => undefined });
  states.push(state);
  expect(await state.waitUntilReady(HANG_DEADLINE_MS)).toBe(true);
  return createCaseService({ store: createDocumentCaseStore(state.documents('cases')), calendar, deadlines });
}

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await Promise.allSettled(states.map((s) => s.close()));
  await redis?.stop();
});

describe('pushed cases in Redis', () => {
  it('lets exactly one of two instances claiming one case at once succeed; the other gets a coded refusal', async () => {
    const [a, b] = [await instance(), await instance()];
    for (let i = 0; i < 20; i++) {
      const { cases } = await a.open(event(`race-${i}`), ['env-bureau'], OPENED);
      const id = cases[0]!.caseId;
      const now = at('2026-03-09T09:00:00');
      const outcomes = await Promise.allSettled([a.claim(id, 'env-bureau', 'officer-a', now), b.claim(id, 'env-bureau', 'officer-b', now)]);
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost.map((o) => (o.reason as { code: string }).code)).toEqual(['CASE_ALREADY_CLAIMED']);
      const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<CaseService['claim']>>>).value;
      // Both instances read the winner's claim.
      expect(await b.get(id)).toEqual(winner.case);
      expect(await a.get(id)).toEqual(winner.case);
      expect(winner.case.version).toBe(2);

      const reports = await Promise.allSettled([
        a.report(id, 'env-bureau', 'officer-a', { outcome: 'INSPECTED_COMPLIANT' }, now),
        b.report(id, 'env-bureau', 'officer-b', { outcome: 'NOT_APPLICABLE' }, now),
      ]);
      expect(reports.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      expect(reports.flatMap((o) => (o.status === 'rejected' ? [(o.reason as { code: string }).code] : []))).toEqual(['CASE_ALREADY_REPORTED']);
      expect((await a.get(id))!.version).toBe(3);
    }
  });

  it('opens one case when two instances open the same event at once', async () => {
    const [a, b] = [await instance(), await instance()];
    const [x, y] = await Promise.all([a.open(event('twice'), ['env-bureau', 'fire-safety'], OPENED), b.open(event('twice'), ['fire-safety', 'env-bureau'], OPENED)]);
    expect(x.cases.map((c) => c.caseId).sort()).toEqual(y.cases.map((c) => c.caseId).sort());
    // Each department's case was created by exactly one of the two.
    expect([...x.changes, ...y.changes].map((c) => c.department).sort()).toEqual(['env-bureau', 'fire-safety']);
  });

  it('lists cases and the overdue ones from either instance, and forgets reported cases in the overdue index', async () => {
    const [a, b] = [await instance(), await instance()];
    const { cases } = await a.open(event('listed'), ['audit-office', 'water-board'], OPENED);
    expect((await b.list({ department: 'audit-office' })).map((c) => c.eventId)).toEqual(['listed']);
    const late = at('2026-03-13T09:00:00');
    expect((await b.overdue('water-board', late)).map((o) => [o.step, o.overdueWorkingDays])).toEqual([['CLAIM', 2]]);
    const water = cases.find((c) => c.department === 'water-board')!;
    await b.claim(water.caseId, 'water-board', 'officer-w', late);
    await a.report(water.caseId, 'water-board', 'officer-w', { outcome: 'SUPERVISION_SCHEDULED', note: '纳入双随机抽查计划' }, late);
    expect(await a.overdue('water-board', at('2026-03-30T09:00:00'))).toEqual([]);
    expect((await a.list({ department: 'water-board', state: 'REPORTED' }))[0]!.reported).toMatchObject({ outcome: 'SUPERVISION_SCHEDULED', note: '纳入双随机抽查计划', late: false });
    expect((await b.overdue(ALL_DEPARTMENTS, at('2026-03-30T09:00:00'))).filter((o) => o.case.eventId === 'listed').map((o) => [o.case.department, o.step])).toEqual([
      ['audit-office', 'CLAIM'],
      ['audit-office', 'FEEDBACK'],
    ]);
  });
});

describe('pushed cases on a Redis Cluster', () => {
  it('keeps a claim race to one winner, the scripts running in the namespace’s slot', async () => {
    const cluster = await startRedisCluster();
    const clusterStates: SharedState[] = [];
    try {
      const services = [];
      for (let i = 0; i < 2; i++) {
        const state = createSharedState({ redis: { cluster: cluster.nodes }, rateLimits: () => undefined });
        clusterStates.push(state);
        expect(await state.waitUntilReady(HANG_DEADLINE_MS)).toBe(true);
        services.push(createCaseService({ store: createDocumentCaseStore(state.documents('cases')), calendar, deadlines }));
      }
      const [a, b] = services as [CaseService, CaseService];
      const { cases } = await a.open(event('cluster-1'), ['env-bureau', 'fire-safety'], OPENED);
      const now = at('2026-03-09T09:00:00');
      const outcomes = await Promise.allSettled([a.claim(cases[0]!.caseId, 'env-bureau', 'officer-a', now), b.claim(cases[0]!.caseId, 'env-bureau', 'officer-b', now)]);
      expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
      expect((await b.list({ department: 'env-bureau', state: 'CLAIMED' })).map((c) => c.caseId)).toEqual([cases[0]!.caseId]);
      expect((await b.overdue(ALL_DEPARTMENTS, at('2026-03-13T09:00:00'))).map((o) => o.case.department)).toEqual(['fire-safety']);
    } finally {
      await Promise.allSettled(clusterStates.map((s) => s.close()));
      await cluster.stop();
    }
  });
});
