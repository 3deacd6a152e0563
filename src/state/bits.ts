/**
 * Bitmaps the instances share: claim a bit (set it, learning whether it was clear, in one atomic
 * step, so of several instances claiming one bit exactly one succeeds), count the set bits, find
 * a clear one, write a small unsigned field, read the bytes. Bit order is Redis': offset 0 is the
 * most significant bit of byte 0, and field `index` of width `w` covers offsets `index*w` to
 * `index*w + w - 1`, most significant bit first. In Redis a namespace's bitmaps are strings
 * (`<prefix>bits:{<namespace>}:<name>`, one cluster slot through the hash tag) written with
 * SETBIT and BITFIELD; in memory, buffers of this process with the same layout.
 */
import { RedisSettingsError, RedisUnavailableError } from './errors';
import type { RedisConnection } from './redis-connection';

/** A namespace of bitmaps shared by the instances. */
export interface SharedBits {
  /** Sets bit `offset` of bitmap `name`; true when it was clear (this call took it), false when it was set already. */
  claim(name: string, offset: number): Promise<boolean>;
  /** Whether bit `offset` of bitmap `name` is set (false past its end, or when it does not exist). */
  isSet(name: string, offset: number): Promise<boolean>;
  /** The number of set bits of bitmap `name` (0 when it does not exist). */
  count(name: string): Promise<number>;
  /**
   * The offset of the first clear bit at or after byte `fromByte` (bits past the end of the
   * bitmap are clear), so at least `fromByte * 8`.
   */
  firstClear(name: string, fromByte: number): Promise<number>;
  /** Writes `value` into the unsigned field number `index` of `width` bits (1 to 8) of bitmap `name`. */
  setField(name: string, width: number, index: number, value: number): Promise<void>;
  /** The bytes of bitmap `name` (empty when it does not exist). */
  read(name: string): Promise<Buffer>;
}

const NAMESPACE = /^[a-z][a-z0-9-]{0,31}$/;
const NAME = /^[a-z0-9][a-z0-9:._-]{0,63}$/;
/** Redis strings end at 512 MiB: the last bit offset is 2^32 - 1. */
const MAX_OFFSET = 2 ** 32 - 1;

function checkNamespace(namespace: string): void {
  if (!NAMESPACE.test(namespace)) throw new RedisSettingsError('bits namespace', `lower-case letters, digits and hyphens (at most 32), but got: ${JSON.stringify(namespace)}`);
}

function checkName(name: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) throw new RedisSettingsError('bitmap name', 'lower-case letters, digits and ":._-" (at most 64)');
}

function checkOffset(what: string, offset: number, max = MAX_OFFSET): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > max) throw new RedisSettingsError(what, `an integer from 0 to ${max}`);
}

function checkField(width: number, index: number, value: number): void {
  if (!Number.isInteger(width) || width < 1 || width > 8) throw new RedisSettingsError('field width', 'an integer from 1 to 8');
  checkOffset('field index', index, Math.floor(MAX_OFFSET / width));
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** width) throw new RedisSettingsError('field value', `an integer from 0 to ${2 ** width - 1}`);
}

const popcount = (byte: number): number => {
  let n = 0;
  for (let b = byte; b; b &= b - 1) n++;
  return n;
};

/** Bitmaps in this process only (one instance), in Redis' layout. */
export function createMemoryBits(namespace = 'bits'): SharedBits {
  checkNamespace(namespace);
  const maps = new Map<string, Buffer>();
  const grown = (name: string, bytes: number): Buffer => {
    let buf = maps.get(name) ?? Buffer.alloc(0);
    if (buf.length < bytes) {
      const next = Buffer.alloc(bytes);
      buf.copy(next);
      maps.set(name, (buf = next));
    }
    return buf;
  };
  const bitOf = (buf: Buffer, offset: number): boolean => (offset >> 3 < buf.length ? (buf[offset >> 3]! & (0x80 >> (offset & 7))) !== 0 : false);
  return {
    async claim(name, offset) {
      checkName(name);
      checkOffset('bit offset', offset);
      const buf = grown(name, (offset >> 3) + 1);
      if (bitOf(buf, offset)) return false;
      buf[offset >> 3]! |= 0x80 >> (offset & 7);
      return true;
    },
    async isSet(name, offset) {
      checkName(name);
      checkOffset('bit offset', offset);
      return bitOf(maps.get(name) ?? Buffer.alloc(0), offset);
    },
    async count(name) {
      checkName(name);
      let n = 0;
      for (const byte of maps.get(name) ?? []) n += popcount(byte);
      return n;
    },
    async firstClear(name, fromByte) {
      checkName(name);
      checkOffset('start byte', fromByte, Math.floor(MAX_OFFSET / 8));
      const buf = maps.get(name) ?? Buffer.alloc(0);
      for (let i = fromByte; i < buf.length; i++) {
        if (buf[i] !== 0xff) for (let b = 0; b < 8; b++) if (!bitOf(buf, i * 8 + b)) return i * 8 + b;
      }
      return Math.max(fromByte, buf.length) * 8;
    },
    async setField(name, width, index, value) {
      checkName(name);
      checkField(width, index, value);
      const first = index * width;
      const buf = grown(name, ((first + width - 1) >> 3) + 1);
      for (let k = 0; k < width; k++) {
        const offset = first + k;
        const mask = 0x80 >> (offset & 7);
        if ((value >> (width - 1 - k)) & 1) buf[offset >> 3]! |= mask;
        else buf[offset >> 3]! &= ~mask & 0xff;
      }
    },
    async read(name) {
      checkName(name);
      return Buffer.from(maps.get(name) ?? Buffer.alloc(0));
    },
  };
}

/** Bitmaps in Redis under the hub's prefix (`<prefix>bits:{<namespace>}:<name>`). */
export function createRedisBits(connection: RedisConnection, namespace: string): SharedBits {
  checkNamespace(namespace);
  const { client } = connection;
  const key = (name: string): string => {
    checkName(name);
    return `${connection.prefix}bits:{${namespace}}:${name}`;
  };

  async function run<T>(what: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new RedisUnavailableError(what, error);
    }
  }

  return {
    async claim(name, offset) {
      const k = key(name);
      checkOffset('bit offset', offset);
      // SETBIT answers the bit's previous value: one atomic step, so one caller sees 0.
      return run('claiming a bit', async () => (await client.setbit(k, offset, 1)) === 0);
    },
    async isSet(name, offset) {
      const k = key(name);
      checkOffset('bit offset', offset);
      return run('reading a bit', async () => (await client.getbit(k, offset)) === 1);
    },
    async count(name) {
      const k = key(name);
      return run('counting bits', () => client.bitcount(k));
    },
    async firstClear(name, fromByte) {
      const k = key(name);
      checkOffset('start byte', fromByte, Math.floor(MAX_OFFSET / 8));
      return run('finding a clear bit', async () => {
        const length = await client.strlen(k);
        // Past the end every bit is clear; BITPOS with a start only pads the string with zeros on the right.
        if (fromByte >= length) return fromByte * 8;
        return (await client.bitpos(k, 0, fromByte)) as number;
      });
    },
    async setField(name, width, index, value) {
      const k = key(name);
      checkField(width, index, value);
      await run('writing a bit field', () => client.bitfield(k, 'SET', `u${width}`, `#${index}`, value));
    },
    async read(name) {
      const k = key(name);
      return run('reading a bitmap', async () => (await client.getBuffer(k)) ?? Buffer.alloc(0));
    },
  };
}
