import { createPolicyEngine, DEMO_POLICY, type AllowedDecision, type Decision, type PolicyEngine } from '../../../src/policy';
import { maskValue } from '../../../src/policy/masks';
import { NOW, RAW, demoEngine, fakeConsent, runAsHub, stubSchema } from './helpers';

const { schema } = stubSchema();
const engine = demoEngine(schema);

/** The demo policy, but the real-estate centre sees names masked. */
function centreMaskingNames(): PolicyEngine {
  const policy = structuredClone(DEMO_POLICY);
  policy.consumers.find((c) => c.id === 'real-estate-centre')!.grants![2]!.mask = ['NAME'];
  return createPolicyEngine({ schema, policy, now: () => NOW });
}

function allowed(decision: Decision): AllowedDecision {
  if (!decision.allowed) throw new Error(`expected an allowed decision, got: ${decision.error.message}`);
  return decision;
}

describe('a masked value', () => {
  it('keeps the first six and last four characters of an identity number', () => {
    expect(maskValue('ID_NUMBER', '371702199001011234')).toBe('371702********1234');
    expect(maskValue('ID_NUMBER', '11010519491231002X')).toBe('110105********002X');
  });

  it('keeps the first three and last four digits of a phone number', () => {
    expect(maskValue('PHONE', '13812345678')).toBe('138****5678');
  });

  it('keeps the first and last character of a name', () => {
    expect(maskValue('NAME', '王小明')).toBe('王*明');
    expect(maskValue('NAME', '欧阳小明')).toBe('欧**明');
    expect(maskValue('NAME', '王明')).toBe('王*');
    expect(maskValue('NAME', '王')).toBe('*');
  });

  it('truncates an address after the district', () => {
    expect(maskValue('ADDRESS', '山东省济南市历下区泉城路12号3单元201室')).toBe('山东省济南市历下区');
    expect(maskValue('ADDRESS', '山东省济南市市中区经四路5号')).toBe('山东省济南市市中区');
    expect(maskValue('ADDRESS', '山东省菏泽市曹县青菏路8号')).toBe('山东省菏泽市曹县');
    expect(maskValue('ADDRESS', '北京市朝阳区建国路1号')).toBe('北京市朝阳区');
    expect(maskValue('ADDRESS', 'somewhere')).toBe('****');
  });

  it('is the same when masked twice', () => {
    for (const [kind, value] of [['ID_NUMBER', '371702199001011234'], ['NAME', '王小明'], ['ADDRESS', RAW['Property.address']!], ['PHONE', '13812345678']] as const) {
      expect(maskValue(kind, maskValue(kind, value))).toBe(maskValue(kind, value));
    }
  });
});

describe('masks, applied where values are resolved', () => {
  it('masks by schema type and field, whatever the aliases, and reports the paths', async () => {
    const { decision, result, masked } = await runAsHub(engine, {
      consumer: 'one-window-hall',
      purpose: 'NO_ARREARS_PROOF',
      document: '{ who: person(idNumber: "P1") { id: idNumber idNumber name } }',
      consents: [fakeConsent('P1', 'NO_ARREARS_PROOF')],
    });
    expect(allowed(decision).masked).toEqual(['Person.idNumber']);
    expect(result?.data).toEqual({ who: { id: '371702********1234', idNumber: '371702********1234', name: '王小明' } });
    expect(masked).toEqual([['who', 'id'], ['who', 'idNumber']]);
  });

  it('masks inside lists and through fragments on the Party union, by __typename', async () => {
    const e = centreMaskingNames();
    const { result, masked, decision } = await runAsHub(e, {
      consumer: 'real-estate-centre',
      purpose: 'PROPERTY_TRANSFER',
      document: '{ property(unitNumber: "U1") { owners { owner { t: __typename ...P ... on Enterprise { name } } } } } fragment P on Person { n: name }',
    });
    expect(allowed(decision).masked).toEqual(['Person.name']);
    expect(result?.data).toEqual({
      property: { owners: [{ owner: { t: 'Person', n: '王*明' } }, { owner: { t: 'Enterprise', name: 'Enterprise.name' } }] },
    });
    expect(masked).toEqual([['property', 'owners', 0, 'owner', 'n']]);
  });

  it('masks by the concrete type under a union, and only there', async () => {
    const e = centreMaskingNames();
    const { result } = await runAsHub(e, {
      consumer: 'real-estate-centre',
      purpose: 'PROPERTY_TRANSFER',
      document: '{ property(unitNumber: "U1") { owners { owner { ... on Person { name } ... on Enterprise { name } } } } }',
    });
    expect(result?.data).toEqual({ property: { owners: [{ owner: { name: '王*明' } }, { owner: { name: 'Enterprise.name' } }] } });
  });

  it('masks a field whose alias another union branch gives to __typename', async () => {
    const e = centreMaskingNames();
    const { result, masked } = await runAsHub(e, {
      consumer: 'real-estate-centre',
      purpose: 'PROPERTY_TRANSFER',
      document: '{ property(unitNumber: "U1") { owners { owner { ... on Person { t: name idNumber } ... on Enterprise { t: __typename } } } } }',
    });
    expect(JSON.stringify(result?.data)).not.toContain(RAW['Person.name']);
    expect(result?.data).toMatchObject({ property: { owners: [{ owner: { t: '王*明' } }, { owner: { t: 'Enterprise' } }] } });
    expect(masked).toEqual([['property', 'owners', 0, 'owner', 't']]);
  });

  it('masks under @include and through nested fragments and aliases alike', async () => {
    const e = centreMaskingNames();
    const { result } = await runAsHub(e, {
      consumer: 'real-estate-centre',
      purpose: 'PROPERTY_TRANSFER',
      document:
        'query($yes: Boolean = true) { property(unitNumber: "U1") { owners { owner { ...A } } } } fragment A on Party { ... on Person @include(if: $yes) { ...B } } fragment B on Person { idNumber: name }',
    });
    expect(JSON.stringify(result?.data)).not.toContain(RAW['Person.name']);
  });
});
