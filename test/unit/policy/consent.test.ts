import { createPolicyEngine, consentTokensFromHeader, DEMO_POLICY, type DeniedDecision, type Decision } from '../../../src/policy';
import { NOW, consentKeys, demoEngine, fakeConsent, fakeVerifier, jwsConsentVerifier, signConsent, stubSchema } from './helpers';

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
        { subject: 'people.idNumbers[0]', issuer: 'citizen-identity', jti: 'jti-P1', exp: NOW / 1000 + 86_400 },
        { subject: 'people.idNumbers[1]', issuer: 'citizen-identity', jti: 'jti-P2', exp: NOW / 1000 + 86_400 },
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

  it('is refused when not signed by a consent issuer', async () => {
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
      verifyConsent: () => ({ valid: true, issuer: 'citizen-identity', subject: 'P1', purpose: 'LIVING_ALLOWANCE', iat: NOW / 1000, exp: NOW / 1000 + 60, audience: 'tax-bureau' }),
    });
    const decision = denied(await e.check({ consumer: 'civil-affairs', purpose: 'LIVING_ALLOWANCE', document: FAMILY_QUERY, variables: { family: ['P1'] }, consents: ['t'] }));
    expect(decision.missingConsent[0]?.reason).toBe('absent');
  });

  it('is refused when issued by the consumer that uses it (self-issued), even when it holds the consent-issuer role', async () => {
    const view = (issuer: string) =>
      engine.check({
        consumer: 'one-window-hall',
        purpose: 'CITIZEN_ACCESS_VIEW',
        document: 'query($id: ID!) { dataAccesses(idNumber: $id) { edges { node { time consumer } } } }',
        variables: { id: 'P1' },
        consents: [fakeConsent('P1', 'CITIZEN_ACCESS_VIEW', { issuer })],
      });
    const decision = denied(await view('one-window-hall'));
    expect(decision.missingConsent).toEqual([{ subject: 'dataAccesses.idNumber', purpose: 'CITIZEN_ACCESS_VIEW', reason: 'self-issued' }]);
    expect(decision.error.message).toBe('No valid consent of the person concerned for dataAccesses.idNumber (self-issued).');
    // The same hall's consent still counts for another consumer, and the citizen identity platform's for the hall.
    expect((await view('citizen-identity')).allowed).toBe(true);
    expect((await ask([fakeConsent('P1', 'LIVING_ALLOWANCE', { issuer: 'one-window-hall' })])).allowed).toBe(true);
  });

  describe('lifetime (exp - iat) bounded by the policy, 24 h by default', () => {
    it('accepts a consent issued for exactly the bound', async () => {
      expect((await ask([fakeConsent('P1', 'LIVING_ALLOWANCE', { iat: NOW / 1000 - 3600, exp: NOW / 1000 - 3600 + 86_400 })])).allowed).toBe(true);
    });

    it('refuses one a second longer, and one without iat (lifetime-too-long)', async () => {
      const longer = denied(await ask([fakeConsent('P1', 'LIVING_ALLOWANCE', { iat: NOW / 1000 - 3600, exp: NOW / 1000 - 3600 + 86_401 })]));
      expect(longer.missingConsent).toEqual([{ subject: 'people.idNumbers[0]', purpose: 'LIVING_ALLOWANCE', reason: 'lifetime-too-long' }]);
      const tenYears = denied(await ask([fakeConsent('P1', 'LIVING_ALLOWANCE', { exp: NOW / 1000 + 3650 * 86_400 })]));
      expect(tenYears.missingConsent[0]?.reason).toBe('lifetime-too-long');
      const noIat = denied(await ask([fakeConsent('P1', 'LIVING_ALLOWANCE', { iat: null, exp: NOW / 1000 + 60 })]));
      expect(noIat.missingConsent[0]?.reason).toBe('lifetime-too-long');
    });

    it('follows the policy\'s consent.maxLifetime', async () => {
      const e = createPolicyEngine({ schema, policy: { ...DEMO_POLICY, consent: { maxLifetime: 'PT10M' } }, verifyConsent: fakeVerifier, now: () => NOW });
      const check = (lifetime: number) =>
        e.check({ consumer: 'civil-affairs', purpose: 'LIVING_ALLOWANCE', document: FAMILY_QUERY, variables: { family: ['P1'] }, consents: [fakeConsent('P1', 'LIVING_ALLOWANCE', { exp: NOW / 1000 + lifetime })] });
      expect((await check(600)).allowed).toBe(true);
      expect(denied(await check(601)).missingConsent[0]?.reason).toBe('lifetime-too-long');
    });

    it('is a fixed-length ISO 8601 duration, longer than zero, at most P366D', () => {
      const invalid = (maxLifetime: string) => () => createPolicyEngine({ schema, policy: { ...DEMO_POLICY, consent: { maxLifetime } }, now: () => NOW });
      expect(invalid('P1Y')).toThrow('consent.maxLifetime: must be an ISO 8601 duration of days, hours, minutes or seconds, e.g. PT24H');
      expect(invalid('PT0S')).toThrow('consent.maxLifetime: must be longer than zero');
      expect(invalid('P400D')).toThrow('consent.maxLifetime: must be at most P366D');
      expect(invalid('P1DT12H')).not.toThrow();
    });
  });

  describe('a one-time consent (once: true)', () => {
    const withMemory = (remember?: (key: string, expiresAtMs: number) => Promise<boolean>) =>
      createPolicyEngine({ schema, policy: DEMO_POLICY, verifyConsent: fakeVerifier, now: () => NOW, ...(remember ? { rememberConsent: remember } : {}) });
    const memory = () => {
      const seen = new Map<string, number>();
      const remember = jest.fn(async (key: string, expiresAtMs: number) => {
        if (seen.has(key)) return false;
        seen.set(key, expiresAtMs);
        return true;
      });
      return { seen, remember };
    };
    const once = (subject: string) => fakeConsent(subject, 'LIVING_ALLOWANCE', { exp: NOW / 1000 + 600, once: true });
    const run = (e: ReturnType<typeof withMemory>, consents: string[], family = ['P1']) =>
      e.check({ consumer: 'civil-affairs', purpose: 'LIVING_ALLOWANCE', document: FAMILY_QUERY, variables: { family }, consents });

    it('lets one request through and refuses the second (used); it is remembered by issuer and jti until it expires', async () => {
      const { seen, remember } = memory();
      const e = withMemory(remember);
      expect((await run(e, [once('P1')])).allowed).toBe(true);
      expect(seen).toEqual(new Map([['citizen-identity\u0000jti-P1', (NOW / 1000 + 600) * 1000 + 5 * 60_000]]));
      const second = denied(await run(e, [once('P1')]));
      expect(second.missingConsent).toEqual([{ subject: 'people.idNumbers[0]', purpose: 'LIVING_ALLOWANCE', reason: 'used' }]);
    });

    it('is not spent by a request refused for another reason (another member lacks consent, or a field is denied)', async () => {
      const { remember } = memory();
      const e = withMemory(remember);
      expect(denied(await run(e, [once('P1')], ['P1', 'P2'])).missingConsent).toEqual([{ subject: 'people.idNumbers[1]', purpose: 'LIVING_ALLOWANCE', reason: 'absent' }]);
      const deniedField = await e.check({
        consumer: 'civil-affairs',
        purpose: 'LIVING_ALLOWANCE',
        document: 'query($family: [ID!]!) { people(idNumbers: $family) { idNumber taxRecords { taxpayerId } } }',
        variables: { family: ['P1'] },
        consents: [once('P1')],
      });
      expect(deniedField.allowed).toBe(false);
      expect(remember).not.toHaveBeenCalled();
      expect((await run(e, [once('P1')])).allowed).toBe(true);
    });

    it('counts once for a person named twice in one request', async () => {
      const { remember } = memory();
      expect((await run(withMemory(remember), [once('P1')], ['P1', 'P1'])).allowed).toBe(true);
      expect(remember).toHaveBeenCalledTimes(1);
    });

    it('does not count when the hub cannot remember it: no memory, or one that fails (fail closed)', async () => {
      expect(denied(await run(withMemory(), [once('P1')])).missingConsent[0]?.reason).toBe('use-unconfirmed');
      const failing = withMemory(() => Promise.reject(new Error('redis down')));
      expect(denied(await run(failing, [once('P1')])).missingConsent[0]?.reason).toBe('use-unconfirmed');
    });

    it('is not needed when a reusable consent for the same person is also sent', async () => {
      const { remember } = memory();
      expect((await run(withMemory(remember), [once('P1'), fakeConsent('P1', 'LIVING_ALLOWANCE')])).allowed).toBe(true);
      expect(remember).not.toHaveBeenCalled();
    });
  });

  it('refuses a request with more than 200 consent tokens', async () => {
    await expect(ask(Array.from({ length: 201 }, () => 'bad'))).rejects.toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: 'A request carries at most 200 consent tokens, got 201.',
    });
  });
});

describe('a consent token as a real ES256 compact JWS', () => {
  const issuer = consentKeys();
  const other = consentKeys();
  const trust = new Map([
    ['cid-2026', { owner: 'citizen-identity', key: issuer.publicKey }],
    ['tax-2026', { owner: 'tax-bureau', key: other.publicKey }],
  ]);
  const e = createPolicyEngine({ schema, policy: DEMO_POLICY, now: () => NOW, verifyConsent: jwsConsentVerifier(trust) });
  const exp = Math.floor(NOW / 1000) + 3600;
  const check = (consents: string[]) =>
    e.check({ consumer: 'civil-affairs', purpose: 'LIVING_ALLOWANCE', document: FAMILY_QUERY, variables: { family: ['370102199001011234'] }, consents });

  it('lets a token signed by the citizen identity platform through', async () => {
    const token = signConsent(issuer.privateKey, 'cid-2026', { iss: 'citizen-identity', sub: '370102199001011234', purpose: 'LIVING_ALLOWANCE', exp, jti: 'c-1' });
    const [header] = token.split('.');
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toEqual({ alg: 'ES256', typ: 'datarun-consent+jwt', kid: 'cid-2026' });
    const decision = await check([token]);
    expect(decision.allowed && decision.consents).toEqual([{ subject: 'people.idNumbers[0]', issuer: 'citizen-identity', jti: 'c-1', exp }]);
  });

  it('refuses a token signed by another consumer', async () => {
    const token = signConsent(other.privateKey, 'tax-2026', { iss: 'tax-bureau', sub: '370102199001011234', purpose: 'LIVING_ALLOWANCE', exp });
    expect(denied(await check([token])).missingConsent[0]?.reason).toBe('untrusted-issuer');
  });

  it('refuses a token whose claims were changed after signing', async () => {
    const token = signConsent(issuer.privateKey, 'cid-2026', { iss: 'citizen-identity', sub: '370102199001019999', purpose: 'LIVING_ALLOWANCE', exp });
    const [h, , s] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ iss: 'citizen-identity', sub: '370102199001011234', purpose: 'LIVING_ALLOWANCE', exp })).toString('base64url');
    const decision = denied(await check([`${h}.${forged}.${s}`]));
    expect(decision.missingConsent[0]?.reason).toBe('absent');
    expect(decision.rejectedConsents).toEqual([{ index: 0, reason: 'signature verification failed' }]);
  });

  it('refuses an expired token', async () => {
    const token = signConsent(issuer.privateKey, 'cid-2026', { iss: 'citizen-identity', sub: '370102199001011234', purpose: 'LIVING_ALLOWANCE', exp: Math.floor(NOW / 1000) - 1 });
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

describe('persons the reply reaches through links', () => {
  it('lists every person with a consent that counts, named or not, so that a linked person can be shown', async () => {
    const decision = await engine.check({
      consumer: 'civil-affairs',
      purpose: 'LIVING_ALLOWANCE',
      document: FAMILY_QUERY,
      variables: { family: ['P1'] },
      consents: [fakeConsent('P1', 'LIVING_ALLOWANCE'), fakeConsent('P9', 'LIVING_ALLOWANCE'), fakeConsent('P8', 'NO_ARREARS_PROOF')],
    });
    expect(decision.allowed).toBe(true);
    if (!decision.allowed) return;
    // P9's consent counts though the operation does not name P9; P8's is for another purpose.
    expect([...decision.consentedPersons!].sort()).toEqual(['P1', 'P9']);
  });

  it('says nothing of consent for a purpose that needs none', async () => {
    const decision = await engine.check({ consumer: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER', document: '{ person(idNumber: "P1") { name } }' });
    expect(decision.allowed && decision.consentedPersons).toBeUndefined();
  });
});
