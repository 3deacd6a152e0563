/**
 * The text of a proof's QR code (docs/proofs.md, "Printing"): the whole proof when it fits a QR
 * code that stays scannable from paper, else the URL of the stored proof on the hub.
 *
 * The whole proof is `DRP1:` followed by Base45 (RFC 9285) of the ZLIB-compressed (RFC 1950)
 * bytes of its compact form, as the EU digital COVID certificate carries its CBOR: every character
 * is in the QR code's alphanumeric set, 5.5 bits a character. The compact form reads each
 * base64url segment of the SD-JWT as the bytes it stands for (a JWT's JSON then compresses, and
 * base64's third is not paid twice): a `form` byte, then for `1` the parts (`~`) and their
 * segments (`.`) each as a varint length and the bytes; `0` is the token's UTF-8 text, for a token
 * whose segments are not canonical unpadded base64url.
 */
import { deflateSync, inflateSync } from 'node:zlib';
import { ProofsError, ProofsErrorCode } from './errors';

/** The prefix of a QR payload that holds the whole proof; the version of the layout. */
export const PROOF_QR_PREFIX = 'DRP1:';

/**
 * The longest QR text that still embeds the proof: the alphanumeric capacity of a QR code of
 * version 25 (117 × 117 modules) at error correction M, 1451 characters. Printed 55 mm wide
 * (the proof page) a module is 0.47 mm, which a phone camera reads from paper; beyond it the QR
 * code holds the reference URL instead.
 */
export const MAX_PROOF_QR_CHARS = 1451;

/** The largest compact form a QR payload may inflate to (a small payload cannot make the reader allocate much). */
const MAX_INFLATED_BYTES = 256 * 1024;

/** RFC 9285's alphabet: the QR code's alphanumeric characters. */
export const BASE45_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';
const BASE45_VALUE = new Map([...BASE45_ALPHABET].map((c, i) => [c, i]));

/** A reference: `…/p/<ref>` on the hub. */
const REFERENCE_PATH = /\/p\/([A-Za-z0-9_-]{1,128})$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

const qrError = (message: string): ProofsError => new ProofsError(ProofsErrorCode.PROOF_QR_INVALID, message);

/** RFC 9285 §4: each two bytes as three characters (low digit first), a last single byte as two. */
export function base45Encode(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    let n = bytes[i]! * 256 + bytes[i + 1]!;
    for (let k = 0; k < 3; k++) {
      out += BASE45_ALPHABET[n % 45];
      n = Math.floor(n / 45);
    }
  }
  if (bytes.length % 2 === 1) {
    const n = bytes[bytes.length - 1]!;
    out += BASE45_ALPHABET[n % 45]! + BASE45_ALPHABET[Math.floor(n / 45)]!;
  }
  return out;
}

/** RFC 9285 §4.2: refuses a character outside the alphabet, a dangling character, a group above 65535 (or a last pair above 255). */
export function base45Decode(text: string): Buffer {
  if (text.length % 3 === 1) throw qrError(`Base45 text of ${text.length} characters leaves one character over (the length must be 3n or 3n + 2)`);
  const out = Buffer.alloc(Math.floor(text.length / 3) * 2 + (text.length % 3 === 2 ? 1 : 0));
  let o = 0;
  for (let i = 0; i < text.length; i += 3) {
    const group = text.slice(i, i + 3);
    let n = 0;
    for (let k = group.length - 1; k >= 0; k--) {
      const value = BASE45_VALUE.get(group[k]!);
      if (value === undefined) throw qrError(`character ${JSON.stringify(group[k])} at ${i + k} is not in the Base45 alphabet`);
      n = n * 45 + value;
    }
    if (group.length === 3) {
      if (n > 0xffff) throw qrError(`the Base45 group at ${i} stands for ${n}, above 65535`);
      out[o++] = n >> 8;
      out[o++] = n & 0xff;
    } else {
      if (n > 0xff) throw qrError(`the last Base45 pair stands for ${n}, above 255`);
      out[o++] = n;
    }
  }
  return out;
}

function pushVarint(out: number[], n: number): void {
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

/** The compact form of a token: form 1 when every segment is canonical unpadded base64url, else form 0 (the text). */
function compactOf(token: string): Buffer {
  const parts = token.split('~').map((part) => part.split('.'));
  const canonical = parts.every((segments) => segments.every((s) => BASE64URL.test(s) && Buffer.from(s, 'base64url').toString('base64url') === s));
  if (!canonical) return Buffer.concat([Buffer.from([0]), Buffer.from(token, 'utf8')]);
  const varint = (n: number): Buffer => {
    const out: number[] = [];
    pushVarint(out, n);
    return Buffer.from(out);
  };
  const chunks: Buffer[] = [Buffer.from([1]), varint(parts.length)];
  for (const segments of parts) {
    chunks.push(varint(segments.length));
    for (const segment of segments) {
      const bytes = Buffer.from(segment, 'base64url');
      chunks.push(varint(bytes.length), bytes);
    }
  }
  return Buffer.concat(chunks);
}

/** Reads the compact form back into the token; every length is checked against what is left. */
function tokenOf(compact: Buffer): string {
  if (compact.length === 0) throw qrError('the QR payload inflates to nothing');
  if (compact[0] === 0) {
    const text = compact.subarray(1).toString('utf8');
    if (Buffer.from(text, 'utf8').compare(compact.subarray(1)) !== 0) throw qrError('the QR payload\'s text form is not UTF-8');
    return text;
  }
  if (compact[0] !== 1) throw qrError(`the QR payload's layout ${compact[0]} is not one this hub reads (0 or 1)`);
  let at = 1;
  const varint = (what: string): number => {
    let n = 0;
    for (let shift = 0; shift <= 28; shift += 7) {
      if (at >= compact.length) throw qrError(`the QR payload ends inside ${what}`);
      const byte = compact[at++]!;
      n += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return n;
    }
    throw qrError(`the QR payload's ${what} is too long a number`);
  };
  const partCount = varint('the number of parts');
  if (partCount < 1 || partCount > compact.length) throw qrError(`the QR payload claims ${partCount} parts`);
  const parts: string[] = [];
  for (let p = 0; p < partCount; p++) {
    const segmentCount = varint(`the number of segments of part ${p + 1}`);
    if (segmentCount < 1 || segmentCount > compact.length) throw qrError(`part ${p + 1} of the QR payload claims ${segmentCount} segments`);
    const segments: string[] = [];
    for (let s = 0; s < segmentCount; s++) {
      const length = varint(`the length of segment ${s + 1} of part ${p + 1}`);
      if (at + length > compact.length) throw qrError(`segment ${s + 1} of part ${p + 1} runs past the end of the QR payload`);
      segments.push(compact.subarray(at, at + length).toString('base64url'));
      at += length;
    }
    parts.push(segments.join('.'));
  }
  if (at !== compact.length) throw qrError(`the QR payload has ${compact.length - at} bytes after its last part`);
  return parts.join('~');
}

/** What a QR code of a proof holds. */
export interface ProofQrPayload {
  /** The QR code's text: `DRP1:…` (alphanumeric mode) or the reference URL. */
  readonly text: string;
  /** True when `text` holds the whole proof, false when it is the reference URL. */
  readonly embedded: boolean;
}

/** Options of `encodeProofForQr`. */
export interface EncodeProofForQrOptions {
  /** The stored proof's URL on the hub (`https://…/p/<ref>`): the QR text when the proof does not fit. */
  readonly referenceUrl?: string;
  /** The longest QR text that embeds the proof. @default MAX_PROOF_QR_CHARS (version 25, error correction M) */
  readonly maxChars?: number;
}

/** True for an http(s) URL ending in `/p/<ref>`. */
function isReferenceUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.search === '' && url.hash === '' && REFERENCE_PATH.test(url.pathname);
  } catch {
    return false;
  }
}

/**
 * The QR text of a proof (an SD-JWT, `<jwt>~<disclosure>~…~`): `DRP1:` + Base45(ZLIB(compact
 * form)) when it is at most `maxChars` long, else `referenceUrl`. Throws PROOF_QR_INVALID for an
 * empty token, a reference that is not an http(s) `…/p/<ref>` URL, or a proof that does not fit
 * with no reference to fall back on.
 */
export function encodeProofForQr(token: string, options: EncodeProofForQrOptions = {}): ProofQrPayload {
  if (typeof token !== 'string' || token === '' || !token.includes('~')) throw qrError('a proof is an SD-JWT <issuer JWT>~<disclosure>~…~: no "~" found');
  const { referenceUrl, maxChars = MAX_PROOF_QR_CHARS } = options;
  if (referenceUrl !== undefined && !isReferenceUrl(referenceUrl)) throw qrError('the reference URL must be an http(s) URL ending in /p/<ref> (letters, digits, _ and -), without query or fragment');
  const text = PROOF_QR_PREFIX + base45Encode(deflateSync(compactOf(token), { level: 9 }));
  if (text.length <= maxChars) return { text, embedded: true };
  if (referenceUrl === undefined) throw qrError(`the proof takes ${text.length} QR characters, more than ${maxChars}, and no reference URL was given`);
  return { text: referenceUrl, embedded: false };
}

/** What a QR code of a proof says: the proof itself, or where the hub keeps it. */
export type DecodedProofQr = { readonly token: string } | { readonly reference: string; readonly ref: string };

/**
 * Reads a QR code's text: `DRP1:…` → `{ token }`; an http(s) URL ending in `/p/<ref>` →
 * `{ reference, ref }`. Line breaks and tabs around the text are ignored (a space is a Base45
 * character and is kept). Anything else throws PROOF_QR_INVALID naming the problem.
 */
export function decodeProofFromQr(text: string): DecodedProofQr {
  if (typeof text !== 'string') throw qrError('a QR payload must be text');
  const trimmed = text.replace(/^[\r\n\t]+|[\r\n\t]+$/g, '');
  if (trimmed.startsWith(PROOF_QR_PREFIX)) {
    const bytes = base45Decode(trimmed.slice(PROOF_QR_PREFIX.length));
    let compact: Buffer;
    try {
      compact = inflateSync(bytes, { maxOutputLength: MAX_INFLATED_BYTES });
    } catch (error) {
      const tooLarge = (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || /larger than|too large/i.test((error as Error).message);
      throw qrError(tooLarge ? `the QR payload inflates beyond ${MAX_INFLATED_BYTES} bytes` : 'the QR payload is not ZLIB data');
    }
    const token = tokenOf(compact);
    if (!token.includes('~')) throw qrError('the QR payload does not hold an SD-JWT (no "~")');
    return { token };
  }
  if (/^https?:\/\//i.test(trimmed)) {
    if (!isReferenceUrl(trimmed)) throw qrError('the URL is not a proof reference (http(s)://…/p/<ref>)');
    return { reference: trimmed, ref: REFERENCE_PATH.exec(new URL(trimmed).pathname)![1]! };
  }
  throw qrError(`not a proof QR payload: it starts neither with ${PROOF_QR_PREFIX} nor with an http(s) reference URL`);
}
