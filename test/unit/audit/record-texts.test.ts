import fc from 'fast-check';
import { canonicalJson } from '../../../src/audit/canonical-json';
import { canonicalRecordTexts, createSubjectKeyer, type SubjectRef } from '../../../src/audit/record';

const SECRET = 'a-subject-key-secret-of-at-least-32-bytes';

describe('the subject keyer\'s memo', () => {
  const subject = fc.record({
    kind: fc.constantFrom<SubjectRef['kind']>('PERSON', 'ENTERPRISE', 'PROPERTY'),
    id: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('37170219900101123x', ' 37170219900101123X ', 'u-1')),
  });

  it('gives every identifier the same key and stored form with and without it, however small its budget', () => {
    fc.assert(
      fc.property(fc.array(subject, { maxLength: 40 }), fc.integer({ min: 1, max: 2000 }), (subjects, memoBytes) => {
        const plain = createSubjectKeyer(SECRET, { memoBytes: 0 });
        const memoized = createSubjectKeyer(SECRET, { memoBytes });
        // Each one twice: the second read may come from the memo.
        for (const s of [...subjects, ...subjects]) {
          expect(memoized.key(s)).toBe(plain.key(s));
          expect(memoized.subject(s)).toEqual(plain.subject(s));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('never gives one secret\'s key under another secret', () => {
    const a = createSubjectKeyer(SECRET);
    const b = createSubjectKeyer(`${SECRET}-other`);
    const s = { kind: 'PERSON' as const, id: '37170219900101123X' };
    expect(a.key(s)).toBe(a.key(s));
    expect(b.key(s)).not.toBe(a.key(s));
  });
});

describe('canonicalRecordTexts', () => {
  const member = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined));
  const names = fc.constantFrom('v', 'seq', 'time', 'instance', 'prev', 'requestId', 'consumer', 'subjects', 'errorCodes', 'h', 'has', 'hasx', 'hashed', 'Hx', 'a_b', 'zz', '0', 'é', 'with space', 'hash');

  it('gives the canonical JSON of the record without and with its hash, whatever its members', () => {
    fc.assert(
      fc.property(fc.dictionary(names, member, { maxKeys: 12 }), fc.string(), (unhashed, hash) => {
        const texts = canonicalRecordTexts(unhashed);
        expect(texts.body).toBe(canonicalJson(unhashed));
        expect(texts.withHash(hash)).toBe(canonicalJson({ ...unhashed, hash }));
      }),
      { numRuns: 500 },
    );
  });
});
