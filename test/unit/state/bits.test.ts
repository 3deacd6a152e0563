/**
 * Shared bitmaps in memory, in Redis' layout (offset 0 = the most significant bit of byte 0):
 * a bit claimed once, counts, the first clear bit, fields, and names and offsets refused. (The
 * same operations against a real Redis, compared with these: test/integration/proofs-redis.test.ts.)
 */
import fc from 'fast-check';
import { createMemoryBits } from '../../../src/state';

describe('shared bitmaps in memory', () => {
  it('claims a bit once, counts set bits, and finds the first clear one from a byte on', async () => {
    const bits = createMemoryBits('test');
    expect(await bits.claim('a', 0)).toBe(true);
    expect(await bits.claim('a', 0)).toBe(false);
    expect(await bits.claim('a', 9)).toBe(true);
    expect([...(await bits.read('a'))]).toEqual([0x80, 0x40]);
    expect(await bits.count('a')).toBe(2);
    expect(await bits.isSet('a', 9)).toBe(true);
    expect(await bits.isSet('a', 1000)).toBe(false);
    expect(await bits.firstClear('a', 0)).toBe(1);
    for (let i = 0; i < 16; i++) await bits.claim('a', i);
    expect(await bits.firstClear('a', 0)).toBe(16);
    expect(await bits.firstClear('a', 5)).toBe(40);
    expect(await bits.firstClear('missing', 0)).toBe(0);
    expect(await bits.count('missing')).toBe(0);
    expect([...(await bits.read('missing'))]).toEqual([]);
  });

  it('writes unsigned fields most significant bit first, as Redis BITFIELD SET u<w> #<i> does', async () => {
    const bits = createMemoryBits('test');
    await bits.setField('f', 2, 0, 1);
    await bits.setField('f', 2, 3, 2);
    expect([...(await bits.read('f'))]).toEqual([0b01_00_00_10]);
    // Field 1 of width 4 is offsets 4 to 7: it overwrites field 3 of width 2.
    await bits.setField('f', 4, 1, 0xf);
    expect([...(await bits.read('f'))]).toEqual([0b0100_1111]);
    await bits.setField('f', 8, 2, 0xab);
    expect([...(await bits.read('f'))]).toEqual([0x4f, 0x00, 0xab]);
    await bits.setField('f', 4, 1, 0);
    expect([...(await bits.read('f'))]).toEqual([0x40, 0x00, 0xab]);
  });

  it('counts exactly the distinct bits claimed (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 200 }), async (offsets) => {
        const bits = createMemoryBits('test');
        const firsts = [];
        for (const o of offsets) firsts.push(await bits.claim('p', o));
        expect(firsts.filter(Boolean).length).toBe(new Set(offsets).size);
        expect(await bits.count('p')).toBe(new Set(offsets).size);
      }),
    );
  });

  it('refuses bad namespaces, names, offsets, widths and values with REDIS_SETTINGS_INVALID', async () => {
    expect(() => createMemoryBits('Bad!')).toThrow(expect.objectContaining({ code: 'REDIS_SETTINGS_INVALID' }));
    const bits = createMemoryBits('test');
    const refusals = [bits.claim('A B', 0), bits.claim('a', -1), bits.claim('a', 2 ** 32), bits.setField('a', 3.5, 0, 0), bits.setField('a', 9, 0, 0), bits.setField('a', 2, 0, 4), bits.firstClear('a', -1)];
    for (const r of refusals) await expect(r).rejects.toMatchObject({ code: 'REDIS_SETTINGS_INVALID' });
  });
});
