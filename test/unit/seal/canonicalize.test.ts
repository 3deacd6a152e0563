import fc from 'fast-check';
import { CanonicalizationError, canonicalize, hashJson, hashText } from '../../../src/seal';
import { canonicalizeChecked } from '../../../src/seal/canonicalize';

/** Builds a double from its IEEE 754 bits, as RFC 8785 Appendix B lists them. */
function fromBits(hex: string): number {
  const buffer = Buffer.from(hex, 'hex');
  return buffer.readDoubleBE(0);
}

describe('RFC 8785 JSON canonicalization', () => {
  it('serializes the RFC 8785 §3.2.2 example exactly', () => {
    const input = JSON.parse('{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}');
    expect(canonicalize(input)).toBe('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
  });

  it('sorts members by UTF-16 code units, as in RFC 8785 §3.2.3', () => {
    const input = JSON.parse('{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}');
    expect(canonicalize(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ])('serializes the double with bits %s as %s (RFC 8785 Appendix B)', (bits, expected) => {
    expect(canonicalize(fromBits(bits))).toBe(expected);
  });

  it('refuses NaN and Infinity, naming where they are', () => {
    expect(() => canonicalize({ a: [1, NaN] })).toThrow(CanonicalizationError);
    try {
      canonicalize({ a: [1, Infinity] });
    } catch (error) {
      expect((error as CanonicalizationError).code).toBe('ERR_JCS_INVALID_INPUT');
      expect((error as Error).message).toBe('expected a finite number at $.a[1], but got: Infinity');
    }
  });

  it('refuses lone surrogates and values that are not JSON data', () => {
    expect(() => canonicalize('\ud800')).toThrow('expected well-formed Unicode at $, but got: a lone surrogate');
    expect(() => canonicalize({ when: new Date(0) })).toThrow('expected JSON data at $.when, but got: Date');
    expect(() => canonicalize(10n)).toThrow('expected JSON data at $, but got: bigint');
  });

  it('leaves out undefined members and accepts null-prototype objects, as graphql-js builds them', () => {
    const row = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: undefined, c: [undefined] });
    expect(canonicalize(row)).toBe('{"b":1,"c":[null]}');
  });

  it('hashes canonical JSON and text as base64url SHA-256', () => {
    expect(hashJson({ b: 1, a: 2 })).toBe(hashJson({ a: 2, b: 1 }));
    expect(hashText('')).toBe('47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU');
    expect(hashJson({})).toBe(hashText('{}'));
  });
});

describe('the fast path of canonicalize', () => {
  /** The outcome of a serialization: its text, or the message it refused with. */
  const outcome = (serialize: (value: unknown) => string, value: unknown): { text: string } | { error: string; type: string } => {
    try {
      return { text: serialize(value) };
    } catch (error) {
      return { error: (error as Error).message, type: (error as Error).constructor.name };
    }
  };

  // JSON data, with what the checked path refuses mixed in: lone surrogates, non-finite numbers, dates, bigints, functions, undefined members, null-prototype objects.
  const odd = fc.oneof(
    fc.constantFrom<unknown>(NaN, Infinity, -Infinity, -0, undefined, '\ud800', 'a\udc00b', '\ud83d\ude00', new Date(0), 10n, () => 1, Symbol('s'), new Map()),
    fc.string({ unit: 'binary' }),
  );
  const { value } = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.jsonValue({ maxDepth: 2 }),
      odd,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('\ud800', 'hash', '__proto__x')), tie('value'), { maxKeys: 4 }),
      fc.dictionary(fc.string(), tie('value'), { maxKeys: 3 }).map((d) => Object.assign(Object.create(null) as object, d)),
    ),
  }));

  it('gives the same text, or the same refusal, as the checked path on any value', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(outcome(canonicalize, v)).toEqual(outcome(canonicalizeChecked, v));
      }),
      { numRuns: 500 },
    );
  });

  it('refuses nesting beyond 512 levels with the checked path\'s message', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 600; i++) deep = [deep];
    expect(() => canonicalize(deep)).toThrow('expected JSON nested at most 512 levels deep');
    let fine: unknown = 1;
    for (let i = 0; i < 512; i++) fine = { a: fine };
    expect(canonicalize(fine)).toBe(canonicalizeChecked(fine));
  });

  it('writes a hole of a sparse array as null, as JSON.stringify does, on both paths', () => {
    const sparse = [, 1];
    expect(canonicalize(sparse)).toBe('[null,1]');
    expect(canonicalizeChecked(sparse)).toBe('[null,1]');
    expect(() => canonicalize([, NaN])).toThrow('expected a finite number at $[1], but got: NaN');
  });
});
