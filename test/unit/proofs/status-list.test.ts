/**
 * The status list codec against draft-ietf-oauth-status-list: its worked examples (a 1-bit and a
 * 2-bit list, bytes and lst), every entry at the draft's bit position (checked with a reference
 * written here independently, bit by bit), decode(encode(x)) = x, and coded refusals.
 */
import { deflateRawSync, deflateSync, inflateSync } from 'node:zlib';
import fc from 'fast-check';
import { decodeStatusList, encodeStatusList, readStatus, unpackStatuses, type StatusBits } from '../../../src/proofs';

/** The draft's examples: statuses, the uncompressed bytes, and the lst it prints. */
const ONE_BIT = { statuses: [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1], bytes: [0xb9, 0xa3], lst: 'eNrbuRgAAhcBXQ' };
const TWO_BITS = { statuses: [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3], bytes: [0xc9, 0x44, 0xf9], lst: 'eNo76fITAAPfAgc' };

/** Reference: entry i's bit k (k = 0 least significant) is bit (i*bits + k) of the list, bit j of byte b counted from the least significant. */
function referencePack(statuses: readonly number[], bits: number): number[] {
  const out = new Array<number>(Math.ceil((statuses.length * bits) / 8)).fill(0);
  statuses.forEach((status, i) => {
    for (let k = 0; k < bits; k++) {
      const position = i * bits + k;
      if (Math.floor(status / 2 ** k) % 2 === 1) out[Math.floor(position / 8)]! += 2 ** (position % 8);
    }
  });
  return out;
}

const bitsArb = fc.constantFrom<StatusBits>(1, 2, 4, 8);
const listArb = bitsArb.chain((bits) => fc.tuple(fc.constant(bits), fc.array(fc.integer({ min: 0, max: 2 ** bits - 1 }), { maxLength: 300 })));

describe('the status list codec', () => {
  it('encodes the draft’s 1-bit and 2-bit examples to exactly its lst, and decodes them back', () => {
    expect(encodeStatusList(ONE_BIT.statuses, 1)).toEqual({ bits: 1, lst: ONE_BIT.lst });
    expect(encodeStatusList(TWO_BITS.statuses, 2)).toEqual({ bits: 2, lst: TWO_BITS.lst });
    const one = decodeStatusList({ bits: 1, lst: ONE_BIT.lst });
    expect([...one.bytes]).toEqual(ONE_BIT.bytes);
    expect([...unpackStatuses(one.bytes, 1)]).toEqual(ONE_BIT.statuses);
    const two = decodeStatusList({ bits: 2, lst: TWO_BITS.lst });
    expect([...two.bytes]).toEqual(TWO_BITS.bytes);
    expect([...unpackStatuses(two.bytes, 2)]).toEqual(TWO_BITS.statuses);
    expect(referencePack(ONE_BIT.statuses, 1)).toEqual(ONE_BIT.bytes);
    expect(referencePack(TWO_BITS.statuses, 2)).toEqual(TWO_BITS.bytes);
  });

  it('places every entry at the draft’s bit position (the independent reference), as ZLIB at the highest level', () => {
    fc.assert(
      fc.property(listArb, ([bits, statuses]) => {
        const { lst } = encodeStatusList(statuses, bits);
        const raw = Buffer.from(lst, 'base64url');
        expect(raw.subarray(0, 2).toString('hex')).toBe('78da'); // ZLIB header: DEFLATE, best compression
        expect([...inflateSync(raw)]).toEqual(referencePack(statuses, bits));
      }),
    );
  });

  it('decodes what it encodes: every status read back at its index, the padding VALID', () => {
    fc.assert(
      fc.property(listArb, ([bits, statuses]) => {
        const { bytes } = decodeStatusList(encodeStatusList(statuses, bits));
        statuses.forEach((status, i) => expect(readStatus(bytes, bits, i)).toBe(status));
        const all = [...unpackStatuses(bytes, bits)];
        expect(all.slice(0, statuses.length)).toEqual(statuses);
        expect(all.slice(statuses.length).every((s) => s === 0)).toBe(true);
        expect(all.length - statuses.length).toBeLessThan(8 / bits);
      }),
    );
  });

  it('reads lists other encoders make (any zlib level), and refuses what is not a list, each with its code', () => {
    expect([...decodeStatusList({ bits: 1, lst: deflateSync(Buffer.from([0xb9, 0xa3]), { level: 1 }).toString('base64url') }).bytes]).toEqual(ONE_BIT.bytes);
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (error) {
        return (error as { code?: string }).code;
      }
      return undefined;
    };
    for (const bits of [0, 3, 16, -1, 1.5, '1', undefined]) {
      expect(code(() => decodeStatusList({ bits, lst: ONE_BIT.lst }))).toBe('STATUS_LIST_BITS_INVALID');
      expect(code(() => encodeStatusList([0], bits as number))).toBe('STATUS_LIST_BITS_INVALID');
    }
    for (const lst of ['eNrbuRgAAhcBXQ==', 'eNrb+RgAAhcBXQ', 'eNrb/RgAAhcBXQ', 'a', 12, null]) expect(code(() => decodeStatusList({ bits: 1, lst }))).toBe('STATUS_LIST_ENCODING_INVALID');
    // Valid base64url that is not ZLIB: text, raw DEFLATE without the ZLIB header, an empty string, a truncated stream.
    for (const lst of ['aGVsbG8', deflateRawSync(Buffer.from([1, 2])).toString('base64url'), '', ONE_BIT.lst.slice(0, 8)]) {
      expect(code(() => decodeStatusList({ bits: 1, lst }))).toBe('STATUS_LIST_ENCODING_INVALID');
    }
    // A small lst that inflates past the limit is refused, not inflated.
    const bomb = deflateSync(Buffer.alloc(1024 * 1024)).toString('base64url');
    expect(code(() => decodeStatusList({ bits: 1, lst: bomb }, { maxBytes: 1024 }))).toBe('STATUS_LIST_ENCODING_INVALID');
    expect(code(() => decodeStatusList(null as never))).toBe('STATUS_LIST_ENCODING_INVALID');
    for (const status of [2, -1, 0.5, Number.NaN, '1']) expect(code(() => encodeStatusList([0, status as number], 1))).toBe('STATUS_VALUE_INVALID');
    expect(code(() => encodeStatusList([256], 8))).toBe('STATUS_VALUE_INVALID');
    const { bytes } = decodeStatusList({ bits: 1, lst: ONE_BIT.lst });
    for (const idx of [16, -1, 1.5, Number.NaN]) expect(code(() => readStatus(bytes, 1, idx))).toBe('STATUS_INDEX_OUT_OF_RANGE');
    expect(readStatus(bytes, 1, 15)).toBe(1);
  });
});
