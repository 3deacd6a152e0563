/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): the one byte form of a JSON value that the
 * audit chain hashes and the checkpoints sign, so that any verifier in any language gets the
 * same bytes from the same value.
 */
import { CanonicalJsonError } from './errors';

/**
 * Serializes a JSON value in its RFC 8785 canonical form: object keys sorted by UTF-16 code
 * units, numbers as ECMAScript prints them, strings as `JSON.stringify` escapes them, no
 * whitespace. Throws CanonicalJsonError for anything I-JSON cannot carry (non-finite numbers,
 * lone surrogates, `undefined` in an array, functions, bigints, class instances, cycles).
 * Object properties whose value is `undefined` are left out, as `JSON.stringify` does.
 */
export function canonicalJson(value: unknown): string {
  return write(value, [], new Set());
}

// A lone surrogate cannot be encoded as UTF-8, so two implementations could disagree on its bytes.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const isWellFormed: (text: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (text) => (text as unknown as { isWellFormed(): boolean }).isWellFormed()
    : (text) => !LONE_SURROGATE.test(text);

// The path is only spelled out for an error message, so the common case builds no strings for it.
type Path = Array<string | number>;
function where(path: Path): string {
  return '$' + path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');
}

function writeString(text: string, path: Path, isKey = false): string {
  if (!isWellFormed(text)) throw new CanonicalJsonError(`a string with a lone surrogate at ${where(path)}${isKey ? ' (a key)' : ''}`);
  return JSON.stringify(text);
}

function write(value: unknown, path: Path, stack: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return writeString(value, path);
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`a non-finite number at ${where(path)}`);
      // ECMAScript Number::toString is exactly the RFC 8785 number form (and prints -0 as 0).
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      throw new CanonicalJsonError(`${value === undefined ? 'undefined' : `a ${typeof value}`} at ${where(path)}`);
  }
  if (value === null) return 'null';
  if (stack.has(value)) throw new CanonicalJsonError(`a cycle at ${where(path)}`);
  stack.add(value);
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      out += (i > 0 ? ',' : '') + write(value[i], path, stack);
      path.pop();
    }
    out += ']';
  } else {
    const proto = Object.getPrototypeOf(value) as unknown;
    // A Date, Map or Buffer has no single JSON form; the caller must say which one it means.
    if (proto !== Object.prototype && proto !== null) throw new CanonicalJsonError(`an instance of ${(value as object).constructor?.name ?? 'a class'} at ${where(path)}`);
    const record = value as Record<string, unknown>;
    // Array.prototype.sort without a comparator compares UTF-16 code units, which is what RFC 8785 §3.2.3 asks for.
    const keys = Object.keys(record).sort();
    out = '{';
    let first = true;
    for (const key of keys) {
      if (record[key] === undefined) continue;
      const name = writeString(key, path, true);
      path.push(key);
      out += (first ? '' : ',') + name + ':' + write(record[key], path, stack);
      path.pop();
      first = false;
    }
    out += '}';
  }
  stack.delete(value);
  return out;
}
