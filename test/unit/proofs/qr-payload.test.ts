/**
 * The QR payload of a proof: Base45 against RFC 9285's examples, the round trip of arbitrary
 * tokens (canonical SD-JWTs and arbitrary text), the size limit that switches to the reference
 * URL, a real proof fitting a version-25 QR code, and a coded refusal for each kind of damage.
 */
import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import qrcode from 'qrcode-generator';
import type { KeyStore } from '../../../src/seal';
import {
  MAX_PROOF_QR_CHARS,
  PROOF_QR_PREFIX,
  base45Decode,
  base45Encode,
  decodeProofFromQr,
  encodeProofForQr,
  issueProofVc,
  presentProof,
  verifyProof,
} from '../../../src/proofs';
import { demoKeyStore, removeTempDirs } from '../seal/fixture';

const NOW = Date.UTC(2026, 2, 6, 2, 0, 0);
const REF = 'https://hub.example.gov.cn/p/Ab3_x-9';
const code = { code: 'PROOF_QR_INVALID' };
let store: KeyStore;

beforeAll(async () => {
  store = await demoKeyStore(new Date(NOW - 86_400_000));
});
afterAll(removeTempDirs);

describe('Base45 (RFC 9285)', () => {
  it.each([
    ['AB', 'BB8'],
    ['Hello!!', '%69 VD92EX0'],
    ['base-45', 'UJCLQE7W581'],
    ['ietf!', 'QED8WEX0'],
    ['', ''],
  ])('encodes %j as %j and back', (plain, encoded) => {
    expect(base45Encode(Buffer.from(plain, 'ascii'))).toBe(encoded);
    expect(base45Decode(encoded).toString('ascii')).toBe(plain);
  });

  it('round-trips any bytes, in the QR alphanumeric set', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = base45Encode(bytes);
        expect(text).toMatch(/^[0-9A-Z $%*+\-./:]*$/);
        expect([...base45Decode(text)]).toEqual([...bytes]);
      }),
    );
  });

  it.each([
    ['GGW', 'above 65535'],
    ['ZZZ', 'above 65535'],
    ['U5', 'ok'],
    ['V5', 'above 255'],
    [':Z', 'above 255'],
    ['A', 'one character over'],
    ['abc', 'not in the Base45 alphabet'],
  ])('refuses %j (%s)', (text, why) => {
    if (why === 'ok') return expect(() => base45Decode(text)).not.toThrow();
    expect(() => base45Decode(text)).toThrow(expect.objectContaining({ ...code, message: expect.stringContaining(why) }));
  });
});

describe('encodeProofForQr / decodeProofFromQr', () => {
  const b64 = fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b).toString('base64url'));
  const sdJwt = fc
    .tuple(fc.tuple(b64, b64, b64), fc.array(b64, { maxLength: 6 }), fc.option(fc.tuple(b64, b64, b64), { nil: undefined }))
    .map(([jwt, disclosures, kb]) => `${jwt.join('.')}~${disclosures.map((d) => `${d}~`).join('')}${kb ? kb.join('.') : ''}`);

  it('round-trips SD-JWT shaped tokens and any text holding a "~"', () => {
    const anyText = fc.tuple(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.string({ maxLength: 50 })).map(([a, b]) => `${a}~${b}`);
    fc.assert(
      fc.property(fc.oneof(sdJwt, anyText), (token) => {
        const payload = encodeProofForQr(token, { maxChars: 1_000_000 });
        expect(payload.embedded).toBe(true);
        expect(payload.text.startsWith(PROOF_QR_PREFIX)).toBe(true);
        expect(payload.text).toMatch(/^[0-9A-Z $%*+\-./:]*$/);
        expect(decodeProofFromQr(payload.text)).toEqual({ token });
      }),
    );
  });

  it('embeds a real proof that a version-25 QR code at M holds, and it verifies after the round trip', async () => {
    const issued = issueProofVc({
      keyStore: store,
      department: 'tax',
      kind: 'NO_TAX_ARREARS',
      purpose: '办理贷款',
      asOf: NOW - 3_600_000,
      subjectKind: 'PERSON',
      claims: { taxpayerName: '张三', idNumber: '370102199001011234', hasArrears: false },
      validitySeconds: 30 * 86_400,
      status: { idx: 7, uri: 'https://hub.example.gov.cn/status/0' },
      now: NOW,
    });
    const payload = encodeProofForQr(issued.token, { referenceUrl: REF });
    expect(payload.embedded).toBe(true);
    // Alphanumeric mode spends 5.5 bits a character, byte mode (the token as it is) 8.
    expect(payload.text.length * 5.5).toBeLessThan(issued.token.length * 8);
    const qr = qrcode(25, 'M');
    qr.addData(payload.text, 'Alphanumeric');
    expect(() => qr.make()).not.toThrow();
    const decoded = decodeProofFromQr(payload.text);
    expect(decoded).toEqual({ token: issued.token });
    const result = await verifyProof(presentProof(issued.token, { disclose: 'all' }), { keys: { keyStore: store }, now: NOW + 60_000 });
    expect(result.valid).toBe(true);
  });

  it('the limit is what a version-25 QR code at M holds in alphanumeric mode', () => {
    const fits = qrcode(25, 'M');
    fits.addData('A'.repeat(MAX_PROOF_QR_CHARS), 'Alphanumeric');
    expect(() => fits.make()).not.toThrow();
    const over = qrcode(25, 'M');
    over.addData('A'.repeat(MAX_PROOF_QR_CHARS + 1), 'Alphanumeric');
    expect(() => over.make()).toThrow();
  });

  it('a proof too large for the QR code becomes its reference URL, which decodes to the reference', () => {
    const big = `${'a'.repeat(20)}.${randomBytes(3000).toString('base64url')}.sig~`;
    const payload = encodeProofForQr(big, { referenceUrl: REF });
    expect(payload).toEqual({ text: REF, embedded: false });
    expect(decodeProofFromQr(REF)).toEqual({ reference: REF, ref: 'Ab3_x-9' });
    expect(() => encodeProofForQr(big)).toThrow(expect.objectContaining({ ...code, message: expect.stringContaining('no reference URL') }));
  });

  it('ignores line breaks around the text, not spaces (a Base45 character)', () => {
    const { text } = encodeProofForQr('a.b.c~d~', { maxChars: 10_000 });
    expect(decodeProofFromQr(`\r\n${text}\n`)).toEqual({ token: 'a.b.c~d~' });
  });

  it.each([
    ['empty', '', 'starts neither'],
    ['a raw token', 'eyJh.eyJi.c2ln~', 'starts neither'],
    ['a letter outside Base45', `${PROOF_QR_PREFIX}abc`, 'not in the Base45 alphabet'],
    ['a dangling character', `${PROOF_QR_PREFIX}AAAA`, 'one character over'],
    ['not ZLIB', `${PROOF_QR_PREFIX}${base45Encode(Buffer.from('hello world'))}`, 'not ZLIB'],
    ['an unknown layout', `${PROOF_QR_PREFIX}${base45Encode(deflateSync(Buffer.from([7, 1, 2])))}`, 'layout 7'],
    ['a segment past the end', `${PROOF_QR_PREFIX}${base45Encode(deflateSync(Buffer.from([1, 1, 1, 50, 1, 2])))}`, 'runs past the end'],
    ['bytes after the last part', `${PROOF_QR_PREFIX}${base45Encode(deflateSync(Buffer.from([1, 1, 1, 0, 9])))}`, 'after its last part'],
    ['a zip bomb', `${PROOF_QR_PREFIX}${base45Encode(deflateSync(Buffer.alloc(1024 * 1024)))}`, 'inflates beyond'],
    ['no "~"', `${PROOF_QR_PREFIX}${base45Encode(deflateSync(Buffer.from([0, 0x61])))}`, 'no "~"'],
    ['a URL that is no reference', 'https://hub.example.gov.cn/verify', 'not a proof reference'],
    ['a javascript: URL', 'javascript:alert(1)', 'starts neither'],
  ])('refuses %s with PROOF_QR_INVALID', (_what, text, why) => {
    expect(() => decodeProofFromQr(text)).toThrow(expect.objectContaining({ ...code, message: expect.stringContaining(why) }));
  });

  it('refuses a reference that is no /p/<ref> URL, and a token without "~"', () => {
    expect(() => encodeProofForQr('a.b.c~', { referenceUrl: 'ftp://x/p/1' })).toThrow(expect.objectContaining(code));
    expect(() => encodeProofForQr('a.b.c~', { referenceUrl: 'https://x/p/a?b=1' })).toThrow(expect.objectContaining(code));
    expect(() => encodeProofForQr('a.b.c')).toThrow(expect.objectContaining(code));
  });

  it('never throws anything but PROOF_QR_INVALID on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string().map((s) => PROOF_QR_PREFIX + s), fc.uint8Array().map((b) => PROOF_QR_PREFIX + base45Encode(deflateSync(b)))), (text) => {
        try {
          decodeProofFromQr(text);
        } catch (error) {
          expect(error).toMatchObject(code);
        }
      }),
    );
  });
});
