import { createPrivateKey, sign, type JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeyStore, type KeyStore, type KeyUse, type PrivateJwk } from '../../../src/seal';
import { WITH_DEPARTMENTS } from '../../support/keys';

/** Temp keys directories made by a test file; removed by `removeTempDirs` in afterAll. */
const dirs: string[] = [];

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'datarun-keys-'));
  dirs.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** A fresh keys directory with the demo parties, keys generated now (by this test). */
export async function demoKeyStore(now?: Date): Promise<KeyStore> {
  return createKeyStore(await tempDir(), now ? { ...WITH_DEPARTMENTS, now } : WITH_DEPARTMENTS);
}

/** The private JWK file that signs for an owner (sandbox consumers and the hub's own keys). */
export function privateJwkOf(store: KeyStore, owner: string, use?: KeyUse): PrivateJwk {
  const path = store.privateKeyPath(owner, use);
  if (!path) throw new Error(`no private key for ${owner}`);
  return JSON.parse(readFileSync(path, 'utf8')) as PrivateJwk;
}

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Orders n of the ECDSA curves, by the length of a raw `R || S` signature (independent of src/seal). */
const CURVE_ORDERS: Readonly<Record<number, bigint>> = {
  64: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  96: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
};

const sOf = (signature: Buffer): bigint => BigInt(`0x${signature.subarray(signature.length / 2).toString('hex')}`);

/** The same ECDSA signature with S replaced by n − S: mathematically valid too, the other of the pair. */
export function flipS(signature: Buffer): Buffer {
  const order = CURVE_ORDERS[signature.length]!;
  const half = signature.length / 2;
  return Buffer.concat([signature.subarray(0, half), Buffer.from((order - sOf(signature)).toString(16).padStart(half * 2, '0'), 'hex')]);
}

/** Whether a raw ECDSA signature's S is in the high half (S > n/2). */
export function isHighS(signature: Buffer): boolean {
  return sOf(signature) > CURVE_ORDERS[signature.length]! >> 1n;
}

/** A compact JWS (or the issuer JWT of an SD-JWT) with its ECDSA signature in the high-S form: S' = n − S. */
export function highSVariant(token: string): string {
  const [jwt, ...rest] = token.split('~');
  const dot = jwt!.lastIndexOf('.');
  let signature: Buffer = Buffer.from(jwt!.slice(dot + 1), 'base64url');
  if (!isHighS(signature)) signature = flipS(signature);
  return [`${jwt!.slice(0, dot)}.${signature.toString('base64url')}`, ...rest].join('~');
}

/**
 * Signs an arbitrary compact JWS straight on node:crypto, independent of src/seal: for crafting
 * hostile tokens. ECDSA signatures are put in low-S form, as every verifier of the project requires.
 */
export function craftJws(header: Record<string, unknown>, payload: Record<string, unknown>, privateJwk: PrivateJwk): string {
  const { kid: _kid, alg: _alg, use: _use, ...members } = privateJwk as PrivateJwk & { use?: string };
  const key = createPrivateKey({ key: members as JsonWebKey, format: 'jwk' });
  const input = `${b64(header)}.${b64(payload)}`;
  const digest = key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'sha384' : 'sha256';
  let signature: Buffer = key.asymmetricKeyType === 'ed25519' ? sign(null, Buffer.from(input), key) : sign(digest, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  if (key.asymmetricKeyType === 'ec' && isHighS(signature)) signature = flipS(signature);
  return `${input}.${signature.toString('base64url')}`;
}

/** A token with an arbitrary header and payload and no valid signature (alg none, HS256…). */
export function unsignedJws(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ''): string {
  return `${b64(header)}.${b64(payload)}.${signature}`;
}

/** Decodes a JWT segment for assertions. */
export function decodeSegment(segment: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;
}
