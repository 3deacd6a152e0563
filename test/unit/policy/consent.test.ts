import { createPolicyEngine, consentTokensFromHeader, DEMO_POLICY, type DeniedDecision, type Decision } from '../../../src/policy';
import { NOW, consentKeys, demoEngine, fakeConsent, jwsConsentVerifier, signConsent, stubSchema } from './helpers';

const { schema, calls } = stubSchema();
const engine = demoEngine(schema);
const FAMILY_QUERY = 'query($family: [ID!]!) { people(idNumbers: $family) { idNumber name } }';

function denied(decision: Decision): DeniedDecision {
  if (decision.allowed) throw new Error('expected a denial');
  return decision;
}

const ask = (consents: string[], family = ['P1']) =>
  engine.check({ consumer: 'civil-affairs', purpose: 'LIVING_ALLOWANCE', document: FAMILY_QUERY, variables: { family }, consents });

describe('consent for a purpose that requires it', () => {
  it('lets the operation through when every person subject has one', async () => {
    const decision = await ask([fakeConsent('P1', 'LIVING_ALLOWANCE'), fakeConsent('P2', 'LIVING_ALLOWANCE')], ['P1', 'P2']);
    expect(decision.allowed).toBe(true);
    if (decision.allowed) {
      expect(decision.consents).toEqual([
        { subject: 'people.idNumbers[0]', issuer: 'one-window-hall', jti: 'jti-P1', exp: NOW / 1000 + 86_400 },
        { subject: 'people.idNumbers[1]', issuer: 'one-window-hall', jti: 'jti-P2', exp: NOW / 1000 + 86_400 },
      ]);
    }
  });

  it('is refused when absent, naming the subject by position, never by its identifier', async () => {
    const decision = denied(await ask([]));
    expect(decision.missingConsent).toEqual([{ subject: 'people.idNumbers[0]', purpose: 'LIVING_ALLOWANCE', reason: 'absent' }]);
    expect(decision.error.extensions['code']).toBe('POLICY_DENIED');
    expect(decision.error.message).toBe('No valid consent of the person concerned for people.idNumbers[0] (absent).');
    expect(JSON.stringify(decision.error.extensions)).not.toContain('P1');
    expect(calls).toEqual([]);
  });

  it('is refused when one family member of several lacks it', async () => {
    const decision = denied(await ask([fakeConsent('P1', 'LIVING_ALLOWANCE')], ['P1', 'P2']));
    expect(decision.missingConsent).toEqual([{ subject: 'people.idNumbers[1]', purpose: 'LIVING_ALLOWANCE', reason: 'absent' }]);
  });

  it('is refused when expired', async () => {
    const decision = denied(await ask([fakeConsent('P1', 'LIVING_ALLOWANCE', { exp: NOW / 1000 - 1 })]));
    expect(decision.missingConsent).toEqual([{ subject: 'people.idNumbers[0]', purpose: 'LIVING_ALLOWANCE', reason: 'expired' }]);
    expect(decision.error.message).toBe('No valid consent of the person concerned for people.idNumbers[0] (expired).');
  });

  it('is refused when given for another subject', async () => {
    expect(denied(await ask([fakeConsent('P2', 'LIVING_ALLOWANCE')])).missingConsent[0]?.reason).toBe('absent');
  });

  it('is refused when given for another purpose', async () => {
    expect(denied(await ask([fakeConsent('P1', 'NO_ARREARS_PROOF')])).missingConsent[0]?.reason).toBe('absent');
  });

  it('is refused when not signed by the one-window hall', async () => {
    const decision = denied(await ask([fakeConsent('P1', 'LIVING_ALLOWANCE', { issuer: 'tax-bureau' })]));
    expect(decision.missingConsent).toEqual([{ subject: 'people.idNumbers[0]', purpose: 'LIVING_ALLOWANCE', reason: 'untrusted-issuer' }]);
    expect(decision.error.message).toBe('No valid consent of the person concerned for people.idNumbers[0] (untrusted-issuer).');
  });

  it('is refused when the verifier rejects the token, which the decision records for the audit', async () => {
    const decision = denied(await ask(['bad']));
    expect(decision.missingConsent[0]?.reason).toBe('absent');
    expect(decision.rejectedConsents).toEqual([{ index: 0, reason: 'signature verification failed' }]);
  });

  it('is refused when no verifier is configured (fail closed)', async () => {
    const e = createPolicyEngine({ schema, policy: DEMO_POLICY, now: () => NOW });
    const decision = denied(await e.check({ consumer: 'civil-affairs', purpose: 'LIVING_ALLOWANCE', document: FAMILY_QUERY, variables: { family: ['P1'] }, consents: [fakeConsent('P1', 'LIVING_ALLOWANCE')] }));
    expect(decision.missingConsent[0]?.reason).toBe('absent');
  });

  it('is needed for a subject hidden in a variable default', async () => {
    const decision = denied(
      await engine.check({ consumer: 'civil-affairs', purpose: 'LIVING_ALLOWANCE', document: 'query($id: ID! = "P7") { person(idNumber: $id) { idNumber } }' }),
    );
    expect(decision.missingConsent).toEqual([{ subject: 'person.idNumber', purpose: 'LIVING_ALLOWANCE', reason: 'absent' }]);
    expect(decision.subjects).toEqual([{ kind: 'person', id: 'P7', at: 'person.idNumber' }]);
  });

  it('is not needed for enterprises and real-estate units', async () => {
    const decision = await engine.check({
      consumer: 'one-window-hall',
      purpose: 'NO_ARREARS_PROOF',
      document: '{ enterprise(creditCode: "E1") { name arrears { amount } } }',
    });
    expect(decision.allowed).toBe(true);
  });

  it('is not needed for a purpose that does not require it', async () => {
    const decision = await engine.check({ consumer: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER', document: '{ person(idNumber: "P1") { name } }' });
    expect(decision.allowed).toBe(true);
  });

  it('is refused when the token names another consumer as its audience', async () => {
    const e = createPolicyEngine({
      schema,
      policy: DEMO_POLICY,
      now: () => NOW,
      verifyConsent: () => ({ valid: true, issuer: 'one-window-hall', subject: 'P1', purpose: 'LIVING_ALLOWANCE', exp: NOW / 1000 + 60, audience: 'tax-bureau' }),
    });
    const decision = denied(await e.check({ consumer: 'civil-affairs', purpose: 'LIVING_ALLOWANCE', document: FAMILY_QUERY, variables: { family: ['P1'] }, consents: ['t'] }));
    expect(decision.missingConsent[0]?.reason).toBe('absent');
  });

  it('refuses a request with more than 200 consent tokens', async () => {
    await expect(ask(Array.from({ length: 201 }, () => 'bad'))).rejects.toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: 'A request carries at most 200 consent tokens, got 201.',
    });
  });
});

describe('a consent token as a real ES256 compact JWS', () => {
  const hall = consentKeys();
  const other = consentKeys();
  const trust = new Map([
    ['hall-2026', { owner: 'one-window-hall', key: hall.publicKey }],
    ['tax-2026', { owner: 'tax-bureau', key: other.publicKey }],
  ]);
  const e = createPolicyEngine({ schema, policy: DEMO_POLICY, now: () => NOW, verifyConsent: jwsConsentVerifier(trust) });
  const exp = Math.floor(NOW / 1000) + 3600;
  const check = (consents: string[]) =>
    e.check({ consumer: 'civil-affairs', purpose: 'LIVING_ALLOWANCE', document: FAMILY_QUERY, variables: { family: ['370102199001011234'] }, consents });

  it('lets a token signed by the one-window hall through', async () => {
    const token = signConsent(hall.privateKey, 'hall-2026', { iss: 'one-window-hall', sub: '370102199001011234', purpose: 'LIVING_ALLOWANCE', exp, jti: 'c-1' });
    const [header] = token.split('.');
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toEqual({ alg: 'ES256', typ: 'datarun-consent+jwt', kid: 'hall-2026' });
    const decision = await check([token]);
    expect(decision.allowed && decision.consents).toEqual([{ subject: 'people.idNumbers[0]', issuer: 'one-window-hall', jti: 'c-1', exp }]);
  });

  it('refuses a token signed by another consumer', async () => {
    const token = signConsent(other.privateKey, 'tax-2026', { iss: 'tax-bureau', sub: '370102199001011234', purpose: 'LIVING_ALLOWANCE', exp });
    expect(denied(await check([token])).missingConsent[0]?.reason).toBe('untrusted-issuer');
  });

  it('refuses a token whose claims were changed after signing', async () => {
    const token = signConsent(hall.privateKey, 'hall-2026', { iss: 'one-window-hall', sub: '370102199001019999', purpose: 'LIVING_ALLOWANCE', exp });
    const [h, , s] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ iss: 'one-window-hall', sub: '370102199001011234', purpose: 'LIVING_ALLOWANCE', exp })).toString('base64url');
    const decision = denied(await check([`${h}.${forged}.${s}`]));
    expect(decision.missingConsent[0]?.reason).toBe('absent');
    expect(decision.rejectedConsents).toEqual([{ index: 0, reason: 'signature verification failed' }]);
  });

  it('refuses an expired token', async () => {
    const token = signConsent(hall.privateKey, 'hall-2026', { iss: 'one-window-hall', sub: '370102199001011234', purpose: 'LIVING_ALLOWANCE', exp: Math.floor(NOW / 1000) - 1 });
    expect(denied(await check([token])).missingConsent[0]?.reason).toBe('expired');
  });
});

describe('the consent header', () => {
  it('holds one or several tokens, comma-separated or repeated', () => {
    expect(consentTokensFromHeader(undefined)).toEqual([]);
    expect(consentTokensFromHeader('a.b.c')).toEqual(['a.b.c']);
    expect(consentTokensFromHeader('a.b.c, d.e.f,')).toEqual(['a.b.c', 'd.e.f']);
    expect(consentTokensFromHeader(['a.b.c', 'd.e.f, g.h.i'])).toEqual(['a.b.c', 'd.e.f', 'g.h.i']);
  });
});
