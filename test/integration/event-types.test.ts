/**
 * Every event type of the graph end to end through one hub: a change made through each
 * department sandbox's route, read from its change feed by the hub, published, and delivered to
 * one subscription asking for all 14 types, with the subject's record read through the link of
 * its kind. (Open mode: this is about the path from the department to the subscriber; grants,
 * masks and records are in subscriptions.test.ts and webhooks.test.ts.)
 */
import type { GatewayReply } from '../../src/gateway';
import { startTestHub, type TestHub } from '../support/hub';

const ALL_TYPES = [
  'ENTERPRISE_REGISTERED', 'ENTERPRISE_STATUS_CHANGED', 'ABNORMAL_LISTED', 'ABNORMAL_REMOVED', 'LICENCE_ISSUED', 'PERMIT_ISSUED', 'PENALTY_IMPOSED',
  'TRANSFER_REGISTERED', 'MORTGAGE_REGISTERED', 'MORTGAGE_RELEASED', 'SEIZURE_REGISTERED', 'SEIZURE_RELEASED',
  'ARREARS_ARISEN', 'ARREARS_SETTLED',
];
const SELECTION = `subscription { departmentEvents(types: [${ALL_TYPES.join(', ')}]) {
  id type department subjectKind details { name value }
  enterprise { creditCode name } property { unitNumber } person { idNumber }
} }`;

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ security: 'open' });
});
afterAll(async () => {
  await hub?.close();
});

async function change(department: string, route: string, body: Record<string, unknown>): Promise<any> {
  const res = await fetch(`${hub.operatorUrl}/__sandbox/${department}/${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`${department}/${route} answered ${res.status}: ${text}`);
  return JSON.parse(text);
}

describe('every event type through the hub', () => {
  it('delivers each of the 14 types to a subscription, its subject resolved through the link of its kind', async () => {
    expect([...hub.gateway.eventTypes].sort()).toEqual([...ALL_TYPES].sort());
    const opened = await hub.gateway.subscribe({ body: Buffer.from(JSON.stringify({ query: SELECTION })), contentType: 'application/json' });
    expect(opened.reply.code).toBeNull();
    const stream = opened.stream![Symbol.asyncIterator]();

    const data = hub.sandboxes.data;
    const enterprise = data.enterprises.find((e) => e.status === 'ACTIVE' && e.abnormalOperations.every((a) => a.removedAt !== null))!;
    const unit = data.properties[7]!.unitNumber;
    const buyer = data.persons[11]!.idNumber;
    const taxpayer = data.taxpayers.find((t) => t.kind === 'PERSON')!.taxpayerId;

    const registered = await change('market-regulation', 'enterprises', { name: '泰安全类型测试有限公司', kind: 'LIMITED_LIABILITY', legalRepIdNumber: data.persons[2]!.idNumber, registeredCapital: 100_000, address: '泰安市泰山区虎山路1号', industry: 'I65', scope: '软件开发' });
    await change('market-regulation', 'status-changes', { creditCode: enterprise.creditCode, status: 'ABNORMAL' });
    await change('market-regulation', 'abnormal-listings', { creditCode: enterprise.creditCode, reason: '通过登记的住所无法联系' });
    await change('market-regulation', 'abnormal-removals', { creditCode: enterprise.creditCode, reason: '已更正住所信息' });
    await change('market-regulation', 'licences', { creditCode: enterprise.creditCode, scope: '技术服务' });
    await change('market-regulation', 'permits', { creditCode: enterprise.creditCode, kind: '食品经营许可', validUntil: '2031-12-31' });
    await change('market-regulation', 'penalties', { creditCode: enterprise.creditCode, reason: '未按规定公示年度报告', amount: 2000 });
    await change('real-estate', 'transfers', { unitNumber: unit, buyerId: buyer, price: 1_200_000 });
    const mortgage = await change('real-estate', 'mortgages', { unitNumber: unit, mortgagee: '中国建设银行泰安分行', amount: 600_000, endDate: '2046-12-31' });
    await change('real-estate', 'mortgage-releases', { unitNumber: unit, registrationNumber: mortgage.change.details.registrationNumber });
    const seizure = await change('real-estate', 'seizures', { unitNumber: unit, court: '泰安市泰山区人民法院', caseNumber: '(2026)鲁0902执123号', endDate: '2029-12-31' });
    await change('real-estate', 'seizure-releases', { unitNumber: unit, seizureNumber: seizure.change.details.seizureNumber });
    await change('tax', 'arrears', { taxpayerId: taxpayer, taxType: 'PROPERTY', amount: 1234.5 });
    await change('tax', 'arrear-settlements', { taxpayerId: taxpayer, taxType: 'PROPERTY' });

    const seen = new Map<string, any>();
    while (seen.size < ALL_TYPES.length) {
      const { value, done } = await stream.next();
      expect(done).toBeFalsy();
      const reply = value as GatewayReply;
      expect(reply.errors).toBeUndefined();
      const event = (reply.data as any).departmentEvents;
      seen.set(event.type, event);
    }
    await stream.return?.(undefined);

    expect(seen.get('ENTERPRISE_REGISTERED').enterprise).toEqual({ creditCode: registered.enterprise.creditCode, name: '泰安全类型测试有限公司' });
    for (const type of ALL_TYPES.slice(1, 7)) expect(seen.get(type)).toMatchObject({ department: 'market-regulation', subjectKind: 'ENTERPRISE', enterprise: { creditCode: enterprise.creditCode }, property: null, person: null });
    for (const type of ALL_TYPES.slice(7, 12)) expect(seen.get(type)).toMatchObject({ department: 'real-estate', subjectKind: 'PROPERTY', property: { unitNumber: unit }, enterprise: null, person: null });
    for (const type of ALL_TYPES.slice(12)) expect(seen.get(type)).toMatchObject({ department: 'tax', subjectKind: 'PERSON', person: { idNumber: taxpayer }, enterprise: null, property: null });
    expect(seen.get('PENALTY_IMPOSED').details.map((d: { name: string }) => d.name)).toEqual(expect.arrayContaining(['amount', 'decisionNumber']));
  });
});
