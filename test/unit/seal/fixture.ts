import { createPrivateKey, sign, type JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeyStore, type KeyStore, type KeyUse, type PrivateJwk } from '../../../src/seal';

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
  return createKeyStore(await tempDir(), now ? { now } : {});
}

/** The private JWK file that signs for an owner (sandbox consumers and the hub's own keys). */
export function privateJwkOf(store: KeyStore, owner: string, use?: KeyUse): PrivateJwk {
  const path = store.privateKeyPath(owner, use);
  if (!path) throw new Error(`no private key for ${owner}`);
  return JSON.parse(readFileSync(path, 'utf8')) as PrivateJwk;
}

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Signs an arbitrary compact JWS straight on node:crypto, independent of src/seal: for crafting hostile tokens. */
export function craftJws(header: Record<string, unknown>, payload: Record<string, unknown>, privateJwk: PrivateJwk): string {
  const { kid: _kid, alg: _alg, use: _use, ...members } = privateJwk as PrivateJwk & { use?: string };
  const key = createPrivateKey({ key: members as JsonWebKey, format: 'jwk' });
  const input = `${b64(header)}.${b64(payload)}`;
  const digest = (header.alg as string) === 'ES384' ? 'sha384' : 'sha256';
  const signature = header.alg === 'EdDSA' ? sign(null, Buffer.from(input), key) : sign(digest, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
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
