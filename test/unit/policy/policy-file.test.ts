import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { loadTypeDefs } from '../../../src/gateway/schema';
import { createPolicyEngine, DEMO_POLICY, PolicyConfigError, readPolicyFile, type PolicyInput } from '../../../src/policy';

const schema = makeExecutableSchema({ typeDefs: loadTypeDefs() });

/** The demo policy with the civil-affairs consumer's grants replaced. */
function withGrants(grants: unknown[]): PolicyInput {
  const policy = structuredClone(DEMO_POLICY) as PolicyInput;
  policy.consumers.find((c) => c.id === 'civil-affairs')!.grants = grants as never;
  return policy;
}

function problemsOf(policy: unknown): readonly string[] {
  try {
    createPolicyEngine({ schema, policy });
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyConfigError);
    return (error as PolicyConfigError).problems;
  }
  throw new Error('expected the policy to be refused');
}

describe('the sharing policy file', () => {
  it('accepts the embedded demo policy', () => {
    expect(() => createPolicyEngine({ schema, policy: DEMO_POLICY })).not.toThrow();
  });

  it('fails start-up on an unknown field coordinate, naming consumer, grant and coordinate', () => {
    try {
      createPolicyEngine({ schema, policy: withGrants([{ fields: ['Person.shoeSize'] }]) });
      throw new Error('expected a throw');
    } catch (error) {
      expect(error).toBeInstanceOf(PolicyConfigError);
      expect((error as Error).message).toBe('Invalid sharing policy:\n  - consumer "civil-affairs" grant[0] "Person.shoeSize": unknown field coordinate');
    }
  });

  it('fails on an unknown type', () => {
    expect(problemsOf(withGrants([{ fields: ['Vehicle'] }]))).toEqual(['consumer "civil-affairs" grant[0] "Vehicle": unknown type']);
  });

  it('fails on an unknown purpose', () => {
    expect(problemsOf(withGrants([{ fields: ['Query.person'], purposes: ['SHOE_SHOPPING'] }]))).toEqual([
      'consumer "civil-affairs" grant[0]: unknown purpose "SHOE_SHOPPING"',
    ]);
  });

  it('fails on a grant of a field that is not shared', () => {
    expect(problemsOf(withGrants([{ fields: ['Taxpayer.taxpayerId'], purposes: ['INVESTIGATION'] }]))).toEqual([
      'consumer "civil-affairs" grant[0] "Taxpayer.taxpayerId": is not shared (不予共享) and can never be granted',
    ]);
  });

  it('fails on a conditional field whose grant names no purpose that unlocks it', () => {
    expect(problemsOf(withGrants([{ fields: ['Property.mortgages'], purposes: ['LIVING_ALLOWANCE'] }]))).toEqual([
      'consumer "civil-affairs" grant[0] "Property.mortgages": is conditional (有条件共享) and none of the grant\'s purposes unlocks it (unlocked by PROPERTY_TRANSFER, INVESTIGATION)',
    ]);
  });

  it('fails on a conditional field in a grant without purposes', () => {
    expect(problemsOf(withGrants([{ fields: ['Person.name'] }]))).toEqual([
      'consumer "civil-affairs" grant[0] "Person.name": is conditional (有条件共享) and the grant names no purpose (unlocked by PROPERTY_TRANSFER, LIVING_ALLOWANCE, ENTERPRISE_STARTUP, NO_ARREARS_PROOF, INVESTIGATION)',
    ]);
  });

  it('fails on a whole type that grants nothing for its purposes', () => {
    expect(problemsOf(withGrants([{ fields: ['Mortgage'], purposes: ['LIVING_ALLOWANCE'] }]))).toEqual([
      'consumer "civil-affairs" grant[0] "Mortgage": grants nothing (every field is not shared, or locked for the grant\'s purposes)',
    ]);
  });

  it('fails on a grant of the catalogue', () => {
    expect(problemsOf(withGrants([{ fields: ['Query.catalog'] }]))).toEqual([
      'consumer "civil-affairs" grant[0] "Query.catalog": is hub metadata (catalog), open to every consumer; do not grant it',
    ]);
  });

  it('fails on bad dates, naming the setting', () => {
    expect(problemsOf(withGrants([{ fields: ['Query.person'], validFrom: '2025-02-30', validTo: 'next year' }]))).toEqual([
      'consumer "civil-affairs" grant[0] validFrom: "2025-02-30" is not a date (YYYY-MM-DD) or a date-time with an offset',
      'consumer "civil-affairs" grant[0] validTo: "next year" is not a date (YYYY-MM-DD) or a date-time with an offset',
    ]);
    // A date-time naming a day or an hour that does not exist is refused too, not rolled over to 2 March or the next day.
    expect(problemsOf(withGrants([{ fields: ['Query.person'], validFrom: '2026-02-30T00:00:00+08:00', validTo: '2026-12-31T24:00:00Z' }]))).toEqual([
      'consumer "civil-affairs" grant[0] validFrom: "2026-02-30T00:00:00+08:00" is not a date (YYYY-MM-DD) or a date-time with an offset',
      'consumer "civil-affairs" grant[0] validTo: "2026-12-31T24:00:00Z" is not a date (YYYY-MM-DD) or a date-time with an offset',
    ]);
  });

  it('fails on a validity that ends before it starts', () => {
    expect(problemsOf(withGrants([{ fields: ['Query.person'], validFrom: '2026-01-01', validTo: '2025-12-31' }]))).toEqual([
      'consumer "civil-affairs" grant[0]: validTo is not after validFrom',
    ]);
  });

  it('fails on a mask of a field without a sensitivity kind, or one the grant does not give', () => {
    expect(problemsOf(withGrants([{ fields: ['Query.person', 'Person.gender'], mask: ['Person.gender', 'Person.idNumber', 'EYE_COLOUR'] }]))).toEqual([
      'consumer "civil-affairs" grant[0] mask "Person.gender": has no sensitivity kind to mask by',
      'consumer "civil-affairs" grant[0] mask "Person.idNumber": is not granted by this grant',
      'consumer "civil-affairs" grant[0] mask "EYE_COLOUR": neither a sensitivity kind (ID_NUMBER, PHONE, NAME, ADDRESS) nor a field coordinate',
    ]);
  });

  it('reports every problem of the file at once', () => {
    expect(problemsOf(withGrants([{ fields: ['Person.shoeSize'] }, { fields: ['Query.person'], purposes: ['NOPE'] }]))).toHaveLength(2);
  });

  it('names the entry when the shape is wrong', () => {
    expect(problemsOf(withGrants([{ fields: 'Query.person' }]))).toEqual([
      'consumer "civil-affairs" grant[0] fields: Invalid input: expected array, received string',
    ]);
    expect(problemsOf(withGrants([{ fields: ['Query.person'], colour: 'red' }]))).toEqual([
      'consumer "civil-affairs" grant[0]: Unrecognized key: "colour"',
    ]);
  });

  it('refuses an auditor that holds department data', () => {
    const policy = structuredClone(DEMO_POLICY) as PolicyInput;
    const auditor = policy.consumers.find((c) => c.id === 'auditor')!;
    auditor.roles = ['auditor', 'consumer'];
    auditor.grants = [{ fields: ['Query.person'] }];
    expect(problemsOf(policy)).toEqual([
      'consumer "auditor": an auditor may hold no department data, so it cannot also be a consumer',
      'consumer "auditor" grant[0] "Query.person": an auditor reads the access log only, never department data',
    ]);
  });

  it('lets only an auditor read the access log, and only a consent issuer the citizen view', () => {
    const policy = structuredClone(DEMO_POLICY) as PolicyInput;
    policy.consumers.find((c) => c.id === 'tax-bureau')!.grants!.push({ fields: ['Query.accessLog', 'Query.dataAccesses'], purposes: ['AUDIT', 'CITIZEN_ACCESS_VIEW'] });
    expect(problemsOf(policy)).toEqual([
      `consumer "tax-bureau" grant[${policy.consumers.find((c) => c.id === 'tax-bureau')!.grants!.length - 1}] "Query.accessLog": only a consumer with the "auditor" role may read the access log`,
      `consumer "tax-bureau" grant[${policy.consumers.find((c) => c.id === 'tax-bureau')!.grants!.length - 1}] "Query.dataAccesses": the citizen's view of the log is for a "consent-issuer" (the one-window hall)`,
    ]);
  });

  it('marks a peer hub with the federation-peer role, which needs the consumer role and excludes consent issuing and administration', () => {
    expect(createPolicyEngine({ schema, policy: DEMO_POLICY }).rolesOf('taian-hub')).toEqual(new Set(['consumer', 'federation-peer']));
    const alone = structuredClone(DEMO_POLICY) as PolicyInput;
    alone.consumers.find((c) => c.id === 'taian-hub')!.roles = ['federation-peer'];
    expect(problemsOf(alone)).toEqual([
      'consumer "taian-hub": holds grants but lacks the "consumer" or "auditor" role',
      'consumer "taian-hub": a "federation-peer" (another hub) asks for data as a consumer, so it needs the "consumer" role too',
    ]);
    const issuer = structuredClone(DEMO_POLICY) as PolicyInput;
    issuer.consumers.find((c) => c.id === 'taian-hub')!.roles = ['consumer', 'federation-peer', 'consent-issuer'];
    expect(problemsOf(issuer)).toEqual(['consumer "taian-hub": a "federation-peer" (another hub) cannot also be a consent issuer or an administrator here']);
  });

  it('refuses grants to a consumer without the consumer role', () => {
    const policy = structuredClone(DEMO_POLICY) as PolicyInput;
    policy.consumers.find((c) => c.id === 'hub-admin')!.grants = [{ fields: ['Query.person'] }];
    expect(problemsOf(policy)).toEqual(['consumer "hub-admin": holds grants but lacks the "consumer" or "auditor" role']);
  });

  it('refuses a consumer registered twice and an unknown role', () => {
    const policy = structuredClone(DEMO_POLICY) as PolicyInput;
    policy.consumers.push({ id: 'auditor', name: 'again', roles: ['auditor'] });
    expect(problemsOf(policy)).toEqual(['consumer "auditor": registered twice']);
    const roles = structuredClone(DEMO_POLICY) as PolicyInput;
    roles.consumers[0]!.roles = ['superuser' as never];
    expect(problemsOf(roles)[0]).toMatch(/^consumer "one-window-hall" roles\.0: Invalid option/);
  });

  it('refuses a confidential purpose without discloseAfter', () => {
    const policy = structuredClone(DEMO_POLICY) as PolicyInput;
    delete policy.purposes.find((p) => p.code === 'INVESTIGATION')!.discloseAfter;
    expect(problemsOf(policy)).toEqual(['purpose "INVESTIGATION": a confidential purpose needs discloseAfter (e.g. "P1Y")']);
  });

  it('refuses consent-requiring purposes when no consumer may issue consents', () => {
    const policy = structuredClone(DEMO_POLICY) as PolicyInput;
    policy.consumers[0]!.roles = ['consumer'];
    policy.consumers.find((c) => c.id === 'citizen-identity')!.roles = ['admin'];
    expect(problemsOf(policy)).toEqual([
      `consumer "one-window-hall" grant[4] "Query.dataAccesses": the citizen's view of the log is for a "consent-issuer" (the one-window hall)`,
      'purpose "LIVING_ALLOWANCE": requires consent, but no consumer has the "consent-issuer" role',
    ]);
  });

  it('names the file when it is not JSON', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'datarun-policy-'));
    try {
      const file = path.join(dir, 'policy.json');
      writeFileSync(file, '{ "version": 1,');
      expect(() => readPolicyFile(file)).toThrow(PolicyConfigError);
      expect(() => readPolicyFile(file)).toThrow(`${file}: is not JSON`);
      expect(() => readPolicyFile(path.join(dir, 'missing.json'))).toThrow(`${path.join(dir, 'missing.json')}: cannot be read (ENOENT)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
