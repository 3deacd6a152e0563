/**
 * Each connector establishes its proof kinds by asking its department directly: against the real
 * sandboxes, for each kind a subject for which it holds and one for which it does not, `asOf`
 * fresh, the department called every time (even right after the same subject was loaded through
 * the graph's loaders), bad identifiers and unknown kinds refused naming the argument, a
 * department that is down answering its connector error, and the registry naming a transfer's new
 * owners as affected subjects.
 */
import { generateSeed } from '../../departments/seed/generate';
import type { SeedData } from '../../departments/seed/model';
import { CHANGE_FEED_OPERATION, type Sandbox } from '../../departments/sandbox-kit';
import { startTaxSandbox } from '../../departments/tax';
import { SQL_OPERATION, startRealEstateSandbox, type RealEstateSandbox } from '../../departments/real-estate';
import { DEFAULT_SOCIAL_SECURITY_API_KEY, startSocialSecuritySandbox } from '../../departments/social-security';
import { MARKET_REGULATION_OPERATIONS, startMarketRegulationSandbox, type MarketRegulationSandbox } from '../../departments/market-regulation';
import { NO_TAX_ARREARS, TAX_PROOFS, connectorModule as taxModule, createTaxConnector, type TaxLoaders } from '../../connectors/tax';
import {
  NO_PROPERTY,
  PROPERTY_RECORD,
  REAL_ESTATE_PROOFS,
  connectorModule as realEstateModule,
  createRealEstateConnector,
  type RealEstateLoaders,
} from '../../connectors/real-estate';
import {
  SOCIAL_INSURANCE_CONTRIBUTIONS,
  SOCIAL_SECURITY_PROOFS,
  connectorModule as socialSecurityModule,
  createSocialSecurityConnector,
  type SocialSecurityLoaders,
} from '../../connectors/social-security';
import {
  ENTERPRISE_REGISTRATION,
  MARKET_REGULATION_PROOFS,
  connectorModule as marketRegulationModule,
  createMarketRegulationConnector,
  type MarketRegulationLoaders,
} from '../../connectors/market-regulation';
import {
  HubError,
  citizenIdCheckChar,
  createHubContext,
  creditCodeCheckChar,
  type Connector,
  type DepartmentEvent,
  type ProofEstablisher,
  type ProofFacts,
  type ProofSubject,
} from '../../src/sdk';

const data: SeedData = generateSeed({ seed: 7, size: 120 });
/** RFC 3339 in China Standard Time, to the second, as the departments write times. */
const CHINA_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/;

function signal(): AbortSignal {
  return new AbortController().signal;
}

/** A valid citizen identity number no department knows. */
function unknownIdNumber(n: number): string {
  const first17 = `11010119800101${String(700 + n).padStart(3, '0')}`;
  return first17 + citizenIdCheckChar(first17);
}

/** A valid credit code no department knows. */
function unknownCreditCode(): string {
  const first17 = '91110000ZZZZZZZZ0'.replace(/Z/g, '1');
  return first17 + creditCodeCheckChar(first17);
}

function proofsOf(connector: Connector<unknown>): ProofEstablisher {
  if (!connector.proofs) throw new Error(`connector ${connector.id} establishes no proofs`);
  return connector.proofs;
}

/** Establishes, checking that `asOf` is the moment of the call (between before and after, to the second). */
async function establish(connector: Connector<unknown>, kind: string, subject: ProofSubject): Promise<ProofFacts> {
  const before = Math.floor(Date.now() / 1000) * 1000;
  const facts = await proofsOf(connector).establish(kind, subject, signal());
  const after = Date.now();
  expect(facts.asOf).toMatch(CHINA_TIME);
  const asOf = Date.parse(facts.asOf);
  expect(asOf).toBeGreaterThanOrEqual(before);
  expect(asOf).toBeLessThanOrEqual(after);
  if (!facts.holds) expect(facts.reason).toEqual(expect.any(String));
  // Claims are JSON: they survive a round trip unchanged.
  expect(JSON.parse(JSON.stringify(facts.claims))).toEqual(facts.claims);
  return facts;
}

/** The HubError an establish call fails with. */
async function failure(connector: Connector<unknown>, kind: string, subject: ProofSubject): Promise<HubError> {
  const error: unknown = await proofsOf(connector).establish(kind, subject, signal()).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HubError);
  return error as HubError;
}

async function expectBadInput(connector: Connector<unknown>, kind: string, subject: ProofSubject, argument: string, message: RegExp): Promise<void> {
  const error = await failure(connector, kind, subject);
  expect(error.code).toBe('BAD_USER_INPUT');
  expect(error.extensions).toMatchObject({ argument });
  expect(error.message).toMatch(message);
}

/** Calls of one operation the sandbox counted. */
function calls(sandbox: Sandbox, operation: string): number {
  return sandbox.control.calls.get(operation) ?? 0;
}

describe('tax: NO_TAX_ARREARS 无欠税证明', () => {
  let sandbox: Sandbox;
  let connector: Connector<TaxLoaders>;

  beforeAll(async () => {
    sandbox = await startTaxSandbox({ data });
    connector = createTaxConnector({ url: sandbox.url, timeoutMs: 5000 });
  });
  afterAll(async () => {
    await connector?.stop();
    await sandbox?.close();
  });
  beforeEach(() => sandbox.control.reset());

  const clean = (kind: 'PERSON' | 'ENTERPRISE') => data.taxpayers.find((t) => t.kind === kind && t.arrears.length === 0)!;
  const owing = (kind: 'PERSON' | 'ENTERPRISE') => data.taxpayers.find((t) => t.kind === kind && t.arrears.length > 0)!;

  it('is declared by the module, about persons and enterprises, revoked by ARREARS_ARISEN', () => {
    expect(taxModule.proofs).toBe(TAX_PROOFS);
    expect(TAX_PROOFS).toEqual([expect.objectContaining({ kind: NO_TAX_ARREARS, subject: 'PERSON', subjects: ['PERSON', 'ENTERPRISE'], revokedBy: ['ARREARS_ARISEN'] })]);
  });

  it.each(['PERSON', 'ENTERPRISE'] as const)('holds for a %s without arrears, and asks the service even right after a load of the same taxpayer', async (kind) => {
    const t = clean(kind);
    await createHubContext({ requestId: 't', signal: signal() }).loadersOf(connector).taxpayerById.load(t.taxpayerId);
    expect(calls(sandbox, 'GetTaxpayers')).toBe(1);
    const facts = await establish(connector, NO_TAX_ARREARS, { kind, id: t.taxpayerId });
    expect(facts).toMatchObject({ holds: true, claims: { taxpayerId: t.taxpayerId, name: t.name, registered: true, hasArrears: false, taxOffice: t.taxOffice } });
    expect(facts.dependsOn).toBeUndefined();
    await establish(connector, NO_TAX_ARREARS, { kind, id: t.taxpayerId });
    expect(calls(sandbox, 'GetTaxpayers')).toBe(3);
  });

  it.each(['PERSON', 'ENTERPRISE'] as const)('does not hold for a %s with arrears, and says why without personal data', async (kind) => {
    const t = owing(kind);
    const facts = await establish(connector, NO_TAX_ARREARS, { kind, id: t.taxpayerId });
    expect(facts).toMatchObject({ holds: false, claims: { taxpayerId: t.taxpayerId, registered: true, hasArrears: true } });
    expect(facts.reason).toMatch(/arrears/);
    expect(facts.reason).not.toContain(t.taxpayerId);
    expect(facts.reason).not.toContain(t.name);
  });

  it('holds for an identifier with no tax registration: "registered: false" is a statement too', async () => {
    const id = unknownIdNumber(1);
    expect(await establish(connector, NO_TAX_ARREARS, { kind: 'PERSON', id })).toEqual({
      asOf: expect.any(String),
      holds: true,
      claims: { taxpayerId: id, registered: false, hasArrears: false },
    });
    expect(calls(sandbox, 'GetTaxpayers')).toBe(1);
    const code = unknownCreditCode();
    expect(await establish(connector, NO_TAX_ARREARS, { kind: 'ENTERPRISE', id: code })).toMatchObject({ holds: true, claims: { taxpayerId: code, registered: false } });
  });

  it('refuses a malformed identifier, a subject kind it does not cover and an unknown kind, naming the argument, without a call', async () => {
    const id = clean('PERSON').taxpayerId;
    await expectBadInput(connector, NO_TAX_ARREARS, { kind: 'PERSON', id: id.slice(0, 17) }, 'idNumber', /"idNumber" must be 18 characters/);
    await expectBadInput(connector, NO_TAX_ARREARS, { kind: 'PERSON', id: `${id.slice(0, 17)}${id[17] === '0' ? '1' : '0'}` }, 'idNumber', /check character/);
    await expectBadInput(connector, NO_TAX_ARREARS, { kind: 'ENTERPRISE', id }, 'creditCode', /"creditCode"/);
    await expectBadInput(connector, NO_TAX_ARREARS, { kind: 'PROPERTY', id }, 'subject.kind', /PERSON or ENTERPRISE/);
    await expectBadInput(connector, 'NO_PROPERTY', { kind: 'PERSON', id }, 'kind', /not a proof kind of the tax connector/);
    expect(sandbox.control.totalCalls()).toBe(0);
  });

  it('answers CONNECTOR_UNAVAILABLE when the service is down, and holds again once it is back', async () => {
    sandbox.control.setFaults({ mode: 'down' });
    expect((await failure(connector, NO_TAX_ARREARS, { kind: 'PERSON', id: clean('PERSON').taxpayerId })).code).toBe('CONNECTOR_UNAVAILABLE');
    sandbox.control.setFaults({ mode: 'none' });
    expect((await establish(connector, NO_TAX_ARREARS, { kind: 'PERSON', id: clean('PERSON').taxpayerId })).holds).toBe(true);
  });

  it('answers UPSTREAM_INVALID_RESPONSE for a malformed reply, never a proof', async () => {
    sandbox.control.setFaults({ mode: 'malformed' });
    expect((await failure(connector, NO_TAX_ARREARS, { kind: 'PERSON', id: clean('PERSON').taxpayerId })).code).toBe('UPSTREAM_INVALID_RESPONSE');
  });
});

describe('real-estate: PROPERTY_RECORD 不动产登记信息 and NO_PROPERTY 无房证明', () => {
  let sandbox: RealEstateSandbox;
  let connector: Connector<RealEstateLoaders>;
  const owned = new Map<string, typeof data.properties>();
  for (const p of data.properties) for (const o of p.owners) owned.set(o.ownerId, [...(owned.get(o.ownerId) ?? []), p]);
  const personOwner = data.persons.find((p) => (owned.get(p.idNumber) ?? []).some((u) => u.mortgages.some((m) => m.status === 'ACTIVE')))!;
  const enterpriseOwner = data.enterprises.find((e) => owned.has(e.creditCode))!;
  const nonOwner = data.persons.find((p) => !owned.has(p.idNumber))!;

  beforeAll(async () => {
    sandbox = await startRealEstateSandbox({ data });
    connector = createRealEstateConnector({ url: sandbox.url, timeoutMs: 10_000, registryName: '测试市不动产登记中心' });
  });
  afterAll(async () => {
    await connector?.stop();
    await sandbox?.close();
  });
  beforeEach(() => sandbox.control.reset());

  async function post(route: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${sandbox.controlUrl}/__sandbox/${route}`, { method: 'POST', body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('are declared by the module with their revoking event types', () => {
    expect(realEstateModule.proofs).toBe(REAL_ESTATE_PROOFS);
    expect(REAL_ESTATE_PROOFS.map((s) => [s.kind, s.subjects ?? [s.subject], s.revokedBy])).toEqual([
      [PROPERTY_RECORD, ['PERSON', 'ENTERPRISE'], ['TRANSFER_REGISTERED', 'MORTGAGE_REGISTERED', 'MORTGAGE_RELEASED', 'SEIZURE_REGISTERED', 'SEIZURE_RELEASED']],
      [NO_PROPERTY, ['PERSON'], ['TRANSFER_REGISTERED']],
    ]);
  });

  it('PROPERTY_RECORD holds for an owner: the units, their share, the mortgages in force; dependsOn the units; asked even right after a load', async () => {
    const units = owned.get(personOwner.idNumber)!;
    await createHubContext({ requestId: 't', signal: signal() }).loadersOf(connector).propertiesByOwner.load(personOwner.idNumber);
    const before = calls(sandbox, SQL_OPERATION);
    expect(before).toBeGreaterThanOrEqual(1);
    const facts = await establish(connector, PROPERTY_RECORD, { kind: 'PERSON', id: personOwner.idNumber });
    expect(calls(sandbox, SQL_OPERATION)).toBe(before + 1);
    expect(facts.holds).toBe(true);
    const sorted = [...units].sort((a, b) => (a.unitNumber < b.unitNumber ? -1 : 1));
    expect(facts.claims).toEqual({
      idNumber: personOwner.idNumber,
      registry: '测试市不动产登记中心',
      properties: sorted.map((u) => {
        const own = u.owners.find((o) => o.ownerId === personOwner.idNumber)!;
        return {
          unitNumber: u.unitNumber,
          certificateNumber: u.certificateNumber,
          address: u.address,
          area: u.area,
          usage: u.usage,
          share: own.share,
          ownership: own.ownership,
          registeredAt: u.registeredAt,
          mortgages: u.mortgages.filter((m) => m.status === 'ACTIVE').map(({ status: _s, ...m }) => m),
          seizures: u.seizures.filter((z) => z.status === 'ACTIVE').map(({ status: _s, ...z }) => z),
        };
      }),
    });
    expect(facts.dependsOn).toEqual(sorted.map((u) => ({ kind: 'PROPERTY', id: u.unitNumber })));
  });

  it('PROPERTY_RECORD holds for an enterprise owner, and not for a party that owns nothing', async () => {
    const facts = await establish(connector, PROPERTY_RECORD, { kind: 'ENTERPRISE', id: enterpriseOwner.creditCode });
    expect(facts).toMatchObject({ holds: true, claims: { creditCode: enterpriseOwner.creditCode } });
    expect((facts.claims['properties'] as unknown[]).length).toBe(owned.get(enterpriseOwner.creditCode)!.length);
    const none = await establish(connector, PROPERTY_RECORD, { kind: 'PERSON', id: nonOwner.idNumber });
    expect(none).toMatchObject({ holds: false, claims: { idNumber: nonOwner.idNumber, propertiesFound: 0 } });
    expect(none.dependsOn).toBeUndefined();
  });

  it('NO_PROPERTY holds for a person without a unit (saying what was searched) and not for an owner', async () => {
    expect(await establish(connector, NO_PROPERTY, { kind: 'PERSON', id: nonOwner.idNumber })).toEqual({
      asOf: expect.any(String),
      holds: true,
      claims: { idNumber: nonOwner.idNumber, registry: '测试市不动产登记中心', propertiesFound: 0 },
    });
    const owner = await establish(connector, NO_PROPERTY, { kind: 'PERSON', id: personOwner.idNumber });
    expect(owner).toMatchObject({ holds: false, claims: { idNumber: personOwner.idNumber } });
    expect(owner.reason).not.toContain(personOwner.idNumber);
    // Each establish asked the database itself: one statement each, two in all.
    expect(calls(sandbox, SQL_OPERATION)).toBe(2);
  });

  it('a transfer names the buyer among the affected subjects, and the buyer\'s NO_PROPERTY no longer holds', async () => {
    const buyer = unknownIdNumber(2);
    expect((await establish(connector, NO_PROPERTY, { kind: 'PERSON', id: buyer })).holds).toBe(true);
    const unit = data.properties.find((p) => p.owners.length > 0)!.unitNumber;
    const res = await post('transfers', { unitNumber: unit, buyerId: buyer, price: 1_000_000 });
    expect(res.status).toBe(201);
    const row = res.body['change'] as { id: number; occurredAt: string };
    const event: DepartmentEvent = { id: String(row.id), type: 'TRANSFER_REGISTERED', subject: { kind: 'PROPERTY', id: unit }, occurredAt: row.occurredAt };
    const before = calls(sandbox, SQL_OPERATION);
    expect(await proofsOf(connector).affectedSubjects!(event, signal())).toEqual([{ kind: 'PERSON', id: buyer }]);
    expect(calls(sandbox, SQL_OPERATION)).toBe(before + 1);
    expect(await establish(connector, NO_PROPERTY, { kind: 'PERSON', id: buyer })).toMatchObject({ holds: false });
    expect(await establish(connector, PROPERTY_RECORD, { kind: 'PERSON', id: buyer })).toMatchObject({ holds: true, dependsOn: [{ kind: 'PROPERTY', id: unit }] });
  });

  it('other events affect no subject beyond the unit, without asking', async () => {
    const unit = data.properties[0]!.unitNumber;
    for (const type of ['MORTGAGE_REGISTERED', 'MORTGAGE_RELEASED', 'SEIZURE_REGISTERED', 'SEIZURE_RELEASED']) {
      expect(await proofsOf(connector).affectedSubjects!({ id: '1', type, subject: { kind: 'PROPERTY', id: unit }, occurredAt: '2026-01-01T00:00:00.000Z' }, signal())).toEqual([]);
    }
    expect(sandbox.control.totalCalls()).toBe(0);
  });

  it('refuses malformed identifiers, a person-only kind for an enterprise and an unknown kind, naming the argument, without a statement', async () => {
    await expectBadInput(connector, PROPERTY_RECORD, { kind: 'PERSON', id: 'x' }, 'idNumber', /"idNumber" must be 18 characters/);
    await expectBadInput(connector, PROPERTY_RECORD, { kind: 'ENTERPRISE', id: personOwner.idNumber }, 'creditCode', /"creditCode"/);
    await expectBadInput(connector, NO_PROPERTY, { kind: 'ENTERPRISE', id: enterpriseOwner.creditCode }, 'subject.kind', /must be PERSON for NO_PROPERTY/);
    await expectBadInput(connector, 'NO_TAX_ARREARS', { kind: 'PERSON', id: nonOwner.idNumber }, 'kind', /not a proof kind of the real-estate connector/);
    const transfer = { id: '1', type: 'TRANSFER_REGISTERED', subject: { kind: 'PROPERTY' as const, id: 'not-a-unit' }, occurredAt: '2026-01-01T00:00:00.000Z' };
    await expect(proofsOf(connector).affectedSubjects!(transfer, signal())).rejects.toMatchObject({ code: 'BAD_USER_INPUT', extensions: { argument: 'event.subject.id' } });
    expect(sandbox.control.totalCalls()).toBe(0);
  });

  it('answers UPSTREAM_INVALID_RESPONSE when the database answers garbage, never a proof', async () => {
    const fresh = createRealEstateConnector({ url: sandbox.url, timeoutMs: 10_000 });
    try {
      sandbox.control.setFaults({ mode: 'malformed' });
      // The sandbox's malformed mode cuts data rows: an owner's rows come back broken.
      expect((await failure(fresh, PROPERTY_RECORD, { kind: 'PERSON', id: personOwner.idNumber })).code).toBe('UPSTREAM_INVALID_RESPONSE');
    } finally {
      sandbox.control.setFaults({ mode: 'none' });
      await fresh.stop();
    }
  });

  it('answers CONNECTOR_UNAVAILABLE when the database is down', async () => {
    // A connector of its own: no pooled connection of the shared one survives into the outage.
    const fresh = createRealEstateConnector({ url: sandbox.url, timeoutMs: 10_000 });
    try {
      sandbox.control.setFaults({ mode: 'down' });
      expect((await failure(fresh, NO_PROPERTY, { kind: 'PERSON', id: nonOwner.idNumber })).code).toBe('CONNECTOR_UNAVAILABLE');
      const transfer = { id: '1', type: 'TRANSFER_REGISTERED', subject: { kind: 'PROPERTY' as const, id: data.properties[0]!.unitNumber }, occurredAt: '2026-01-01T00:00:00.000Z' };
      await expect(proofsOf(fresh).affectedSubjects!(transfer, signal())).rejects.toMatchObject({ code: 'CONNECTOR_UNAVAILABLE' });
    } finally {
      sandbox.control.setFaults({ mode: 'none' });
      await fresh.stop();
    }
    expect(calls(sandbox, CHANGE_FEED_OPERATION)).toBe(0);
  });
});

describe('social-security: SOCIAL_INSURANCE_CONTRIBUTIONS 社保缴费证明', () => {
  let sandbox: Sandbox;
  let connector: Connector<SocialSecurityLoaders>;

  beforeAll(async () => {
    sandbox = await startSocialSecuritySandbox({ data });
    connector = createSocialSecurityConnector({ baseUrl: sandbox.url, apiKey: DEFAULT_SOCIAL_SECURITY_API_KEY, timeoutMs: 5000 });
  });
  afterAll(async () => {
    await connector?.stop();
    await sandbox?.close();
  });
  beforeEach(() => sandbox.control.reset());

  const insured = data.insured.find((i) => i.contributions.length > 0 && i.employerCreditCode !== null)!;

  it('is declared by the module, about persons, revoked by no event (the agency has no feed)', () => {
    expect(socialSecurityModule.proofs).toBe(SOCIAL_SECURITY_PROOFS);
    expect(SOCIAL_SECURITY_PROOFS).toEqual([expect.objectContaining({ kind: SOCIAL_INSURANCE_CONTRIBUTIONS, subject: 'PERSON' })]);
    expect(SOCIAL_SECURITY_PROOFS[0]!.revokedBy).toBeUndefined();
  });

  it('holds for an insured person: types, months per type over the whole history, last period, employer; asked even right after a load', async () => {
    await createHubContext({ requestId: 't', signal: signal() }).loadersOf(connector).insuredById.load(insured.idNumber);
    expect(calls(sandbox, 'insured.batch')).toBe(1);
    const facts = await establish(connector, SOCIAL_INSURANCE_CONTRIBUTIONS, { kind: 'PERSON', id: insured.idNumber });
    expect(calls(sandbox, 'insured.batch')).toBe(2);
    const months = new Map<string, Set<string>>();
    for (const c of insured.contributions) months.set(c.insuranceType, (months.get(c.insuranceType) ?? new Set()).add(c.period));
    const types = [...months.keys()].sort();
    expect(facts).toMatchObject({ holds: true });
    expect(facts.claims).toEqual({
      idNumber: insured.idNumber,
      name: insured.name,
      scheme: insured.scheme,
      insuredStatus: insured.status,
      insuredSince: insured.insuredSince,
      insuranceTypes: types,
      monthsByType: Object.fromEntries(types.map((t) => [t, months.get(t)!.size])),
      lastContributionPeriod: insured.contributions.map((c) => c.period).sort().at(-1),
      employer: { creditCode: insured.employerCreditCode },
    });
  });

  it('does not hold for a person the agency does not insure', async () => {
    const facts = await establish(connector, SOCIAL_INSURANCE_CONTRIBUTIONS, { kind: 'PERSON', id: unknownIdNumber(3) });
    expect(facts).toMatchObject({ holds: false, claims: { idNumber: unknownIdNumber(3) } });
    expect(calls(sandbox, 'insured.batch')).toBe(1);
  });

  it('refuses a malformed identifier, an enterprise and an unknown kind, naming the argument, without a call', async () => {
    await expectBadInput(connector, SOCIAL_INSURANCE_CONTRIBUTIONS, { kind: 'PERSON', id: `${insured.idNumber.slice(0, 6)}19991399${insured.idNumber.slice(14)}` }, 'idNumber', /birth date/);
    await expectBadInput(connector, SOCIAL_INSURANCE_CONTRIBUTIONS, { kind: 'ENTERPRISE', id: data.enterprises[0]!.creditCode }, 'subject.kind', /must be PERSON/);
    await expectBadInput(connector, 'NO_PROPERTY', { kind: 'PERSON', id: insured.idNumber }, 'kind', /not a proof kind of the social-security connector/);
    expect(sandbox.control.totalCalls()).toBe(0);
  });

  it('answers CONNECTOR_UNAVAILABLE when the agency is down, and CONNECTOR_TIMEOUT when it is too slow', async () => {
    sandbox.control.setFaults({ mode: 'down' });
    expect((await failure(connector, SOCIAL_INSURANCE_CONTRIBUTIONS, { kind: 'PERSON', id: insured.idNumber })).code).toBe('CONNECTOR_UNAVAILABLE');
    const impatient = createSocialSecurityConnector({ baseUrl: sandbox.url, apiKey: DEFAULT_SOCIAL_SECURITY_API_KEY, timeoutMs: 100 });
    try {
      sandbox.control.setFaults({ mode: 'slow', slowMs: 3000 });
      expect((await failure(impatient, SOCIAL_INSURANCE_CONTRIBUTIONS, { kind: 'PERSON', id: insured.idNumber })).code).toBe('CONNECTOR_TIMEOUT');
    } finally {
      sandbox.control.setFaults({ mode: 'none' });
      await impatient.stop();
    }
  });
});

describe('market-regulation: ENTERPRISE_REGISTRATION 企业登记状态', () => {
  let sandbox: MarketRegulationSandbox;
  let connector: Connector<MarketRegulationLoaders>;

  beforeAll(async () => {
    sandbox = await startMarketRegulationSandbox({ data });
    connector = createMarketRegulationConnector({ baseUrl: sandbox.url, timeoutMs: 5000 });
  });
  afterAll(async () => {
    await connector?.stop();
    await sandbox?.close();
  });
  beforeEach(() => sandbox.control.reset());

  const active = data.enterprises.filter((e) => e.status === 'ACTIVE' && e.abnormalOperations.every((a) => a.removedAt !== null));
  const inactive = data.enterprises.find((e) => e.status !== 'ACTIVE')!;
  const batch = MARKET_REGULATION_OPERATIONS.enterprisesBatch;

  it('is declared by the module, about enterprises, revoked by status changes and abnormal listings', () => {
    expect(marketRegulationModule.proofs).toBe(MARKET_REGULATION_PROOFS);
    expect(MARKET_REGULATION_PROOFS).toEqual([expect.objectContaining({ kind: ENTERPRISE_REGISTRATION, subject: 'ENTERPRISE', revokedBy: ['ENTERPRISE_STATUS_CHANGED', 'ABNORMAL_LISTED'] })]);
  });

  it('holds for a registered, ACTIVE enterprise off the abnormal list; asked even right after a load', async () => {
    const e = active[0]!;
    await createHubContext({ requestId: 't', signal: signal() }).loadersOf(connector).enterpriseByCode.load(e.creditCode);
    expect(calls(sandbox, batch)).toBe(1);
    const facts = await establish(connector, ENTERPRISE_REGISTRATION, { kind: 'ENTERPRISE', id: e.creditCode });
    expect(calls(sandbox, batch)).toBe(2);
    expect(facts).toEqual({
      asOf: expect.any(String),
      holds: true,
      claims: { creditCode: e.creditCode, name: e.name, registrationStatus: 'ACTIVE', establishedAt: e.establishedAt, legalRepresentative: { idNumber: e.legalRepIdNumber }, onAbnormalList: false },
    });
  });

  it('does not hold for an enterprise that is not ACTIVE, nor for an unknown credit code', async () => {
    const facts = await establish(connector, ENTERPRISE_REGISTRATION, { kind: 'ENTERPRISE', id: inactive.creditCode });
    expect(facts).toMatchObject({ holds: false, claims: { registrationStatus: inactive.status } });
    expect(facts.reason).toContain(inactive.status);
    expect(await establish(connector, ENTERPRISE_REGISTRATION, { kind: 'ENTERPRISE', id: unknownCreditCode() })).toMatchObject({ holds: false, claims: { registered: false } });
  });

  it('stops holding once the enterprise is put on the abnormal-operation list (through the sandbox route)', async () => {
    const e = active[1]!;
    expect((await establish(connector, ENTERPRISE_REGISTRATION, { kind: 'ENTERPRISE', id: e.creditCode })).holds).toBe(true);
    const res = await fetch(`${sandbox.url}/__sandbox/abnormal-listings`, { method: 'POST', body: JSON.stringify({ creditCode: e.creditCode, reason: '通过登记的住所无法联系' }) });
    expect(res.status).toBe(201);
    const facts = await establish(connector, ENTERPRISE_REGISTRATION, { kind: 'ENTERPRISE', id: e.creditCode });
    expect(facts).toMatchObject({ holds: false, claims: { onAbnormalList: true } });
    expect(facts.reason).toMatch(/abnormal/);
  });

  it('refuses a malformed credit code, a person and an unknown kind, naming the argument, without a call', async () => {
    const code = active[0]!.creditCode;
    await expectBadInput(connector, ENTERPRISE_REGISTRATION, { kind: 'ENTERPRISE', id: code.toLowerCase() }, 'creditCode', /GB 32100/);
    await expectBadInput(connector, ENTERPRISE_REGISTRATION, { kind: 'PERSON', id: data.persons[0]!.idNumber }, 'subject.kind', /must be ENTERPRISE/);
    await expectBadInput(connector, 'NO_TAX_ARREARS', { kind: 'ENTERPRISE', id: code }, 'kind', /not a proof kind of the market-regulation connector/);
    expect(sandbox.control.totalCalls()).toBe(0);
  });

  it('answers CONNECTOR_UNAVAILABLE when the department is down, UPSTREAM_INVALID_RESPONSE for a malformed reply', async () => {
    sandbox.control.setFaults({ mode: 'down' });
    expect((await failure(connector, ENTERPRISE_REGISTRATION, { kind: 'ENTERPRISE', id: active[0]!.creditCode })).code).toBe('CONNECTOR_UNAVAILABLE');
    sandbox.control.setFaults({ mode: 'malformed' });
    expect((await failure(connector, ENTERPRISE_REGISTRATION, { kind: 'ENTERPRISE', id: active[0]!.creditCode })).code).toBe('UPSTREAM_INVALID_RESPONSE');
  });
});
