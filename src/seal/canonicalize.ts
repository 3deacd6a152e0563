import { CanonicalizationError } from './errors';

/**
 * RFC 8785 JSON Canonicalization Scheme (JCS). ECMAScript's own JSON serialization already
 * writes numbers (Number::toString) and escapes strings exactly as JCS requires, so what is
 * left is sorting object members by UTF-16 code units (the default `Array#sort` order) and
 * refusing what is not I-JSON: non-finite numbers, lone surrogates, non-data values.
 */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function serializeString(value: string, where: string): string {
  if (LONE_SURROGATE.test(value)) throw new CanonicalizationError(`expected well-formed Unicode at ${where}, but got: a lone surrogate`);
  return JSON.stringify(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value === 'number' ? String(value) : typeof value;
}

function serialize(value: unknown, where: string, depth: number): string {
  if (depth > 512) throw new CanonicalizationError(`expected JSON nested at most 512 levels deep at ${where}`);
  switch (typeof value) {
    case 'string':
      return serializeString(value, where);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalizationError(`expected a finite number at ${where}, but got: ${describe(value)}`);
      return JSON.stringify(value); // -0 serializes as "0", as JCS requires
    case 'object': {
      if (value === null) return 'null';
      // Array.from, not map: a hole in a sparse array is null, as JSON.stringify writes it (map would skip it and leave `[,1]`).
      if (Array.isArray(value)) return `[${Array.from(value, (item: unknown, i) => serialize(item === undefined ? null : item, `${where}[${i}]`, depth + 1)).join(',')}]`;
      // Plain objects only, from any realm; graphql-js builds result objects with a null prototype.
      const proto = Object.getPrototypeOf(value) as object | null;
      const plain = proto === null || (Object.getPrototypeOf(proto) === null && Object.prototype.toString.call(value) === '[object Object]');
      if (!plain) throw new CanonicalizationError(`expected JSON data at ${where}, but got: ${describe(value)}`);
      const record = value as Record<string, unknown>;
      const parts: string[] = [];
      for (const key of Object.keys(record).sort()) {
        const member = record[key];
        if (member === undefined) continue; // as JSON.stringify: an undefined member is absent
        parts.push(`${serializeString(key, where)}:${serialize(member, `${where}.${key}`, depth + 1)}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw new CanonicalizationError(`expected JSON data at ${where}, but got: ${describe(value)}`);
  }
}

/** `String.prototype.isWellFormed` (Node 20; the project's lib target predates its typings): no lone surrogate. */
export const isWellFormed = (text: string): boolean => (text as string & { isWellFormed(): boolean }).isWellFormed();

/** Thrown by the fast path at anything it does not serialize: the checked path then names the problem. */
const NOT_FAST = Symbol('not fast');

/**
 * The same serialization without the location bookkeeping: no path string is built per member
 * (that was most of the cost on the request path: a reply's hash, an access record). It gives up
 * (throws NOT_FAST) at the first value the checked path would refuse, and the checked path runs
 * again to name it, so both always agree.
 */
function serializeFast(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      if (!isWellFormed(value)) throw NOT_FAST;
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw NOT_FAST;
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (depth >= 512) throw NOT_FAST;
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          out += (i === 0 ? '' : ',') + serializeFast(item === undefined ? null : item, depth + 1);
        }
        return `${out}]`;
      }
      const proto = Object.getPrototypeOf(value) as object | null;
      if (proto !== null && !(Object.getPrototypeOf(proto) === null && Object.prototype.toString.call(value) === '[object Object]')) throw NOT_FAST;
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const member = record[key];
        if (member === undefined) continue;
        if (!isWellFormed(key)) throw NOT_FAST;
        out += `${first ? '' : ','}${JSON.stringify(key)}:${serializeFast(member, depth + 1)}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      throw NOT_FAST;
  }
}

/** The checked serialization alone, naming the location of what it refuses: `canonicalize` without its fast path (tests compare the two). */
export function canonicalizeChecked(value: unknown): string {
  return serialize(value, '$', 0);
}

/** Serializes JSON data canonically per RFC 8785 (JCS): sorted members, ES number format, no whitespace. */
export function canonicalize(value: unknown): string {
  try {
    return serializeFast(value, 0);
  } catch (error) {
    // A stack overflow or anything else the fast path met: the checked path decides, and names it.
    if (error !== NOT_FAST && !(error instanceof RangeError)) throw error;
    return serialize(value, '$', 0);
  }
}
