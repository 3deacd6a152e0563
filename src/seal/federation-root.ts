import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmod, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { KeyMismatchError, PrivateKeyMissingError, TrustListInvalidError } from './errors';
import { sha256Base64url } from './hash';
import { readPrivateKeyFile, readTextIfPresent } from './key-file';
import { publicJwkSchema, type PublicJwk } from './trust';

/**
 * The hub's federation root key: one Ed25519 key pair per hub that signs nothing but the hub's
 * JWKS statement (`federation.ts`). Peers pin its public half (or its RFC 7638 thumbprint), so
 * it lives apart from the trust list and is never rotated with the other keys: its public half
 * in `federation-root.json`, its private half in `private/federation-root.<thumbprint>.jwk.json`
 * (mode 0600, never committed).
 */

/** The use of the federation root key (the JWKS statement's signer; never published in the JWKS). */
export const FEDERATION_ROOT_USE = 'federation-root';

/** File of the root key's public half inside a keys directory. */
export const FEDERATION_ROOT_FILE = 'federation-root.json';

/** The algorithm of every federation root key. */
export const FEDERATION_ROOT_ALG = 'EdDSA';

/** The root key's public half, as `federation-root.json` holds it. */
export interface FederationRootPublic {
  readonly format: 'datarun-federation-root/1';
  /** The RFC 7638 SHA-256 thumbprint of `jwk`: the kid of the statements it signs. */
  readonly kid: string;
  readonly alg: 'EdDSA';
  readonly jwk: PublicJwk;
  /** ISO 8601: created. */
  readonly createdAt: string;
}

/** The root key as a loaded key store holds it: public facts and the private KeyObject. */
export interface FederationRootKey extends FederationRootPublic {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

const rootFileSchema = z.strictObject({
  format: z.literal('datarun-federation-root/1'),
  kid: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  alg: z.literal('EdDSA'),
  jwk: publicJwkSchema,
  createdAt: z.iso.datetime(),
});

/** The RFC 7638 SHA-256 thumbprint (base64url) of a public JWK: the members the RFC names, in its order. */
export function jwkThumbprint(jwk: PublicJwk): string {
  if (jwk.kty === 'OKP') return sha256Base64url(`{"crv":"${jwk.crv}","kty":"OKP","x":"${jwk.x}"}`);
  return sha256Base64url(`{"crv":"${jwk.crv}","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`);
}

const privateFileName = (kid: string): string => `${FEDERATION_ROOT_USE}.${kid}.jwk.json`;

async function readRootFile(path: string): Promise<FederationRootPublic | undefined> {
  const text = await readTextIfPresent(path);
  if (text === undefined) return undefined;
  let parsed;
  try {
    parsed = rootFileSchema.safeParse(JSON.parse(text));
  } catch (error) {
    throw new TrustListInvalidError(`${path} is not JSON`, { cause: error });
  }
  if (!parsed.success) throw new TrustListInvalidError(`${path} is not a federation root key file: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ')}`);
  if (jwkThumbprint(parsed.data.jwk) !== parsed.data.kid) throw new TrustListInvalidError(`${path}: kid is not the RFC 7638 thumbprint of jwk`);
  return parsed.data as FederationRootPublic;
}

async function writePublic(path: string, root: FederationRootPublic): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(root, null, 2)}\n`, { mode: 0o644 });
  await rename(tmp, path);
}

/**
 * Makes sure a keys directory holds a federation root key (called by `initKeys`, under its
 * lock): creates one when there is none. A public file whose private half is missing is an
 * error (peers pin that key), unless `sandbox` (a demo hub: a new root is made, and its peers
 * must pin the new one). Returns the kid when a key was created.
 */
export async function ensureFederationRoot(dir: string, privateDir: string, options: { readonly nowMs: number; readonly sandbox: boolean }): Promise<string | undefined> {
  const path = join(dir, FEDERATION_ROOT_FILE);
  const existing = await readRootFile(path);
  if (existing) {
    const present = await stat(join(privateDir, privateFileName(existing.kid))).then(
      () => true,
      () => false,
    );
    if (present) return undefined;
    if (!options.sandbox) throw new PrivateKeyMissingError(`the private half of the federation root key ${existing.kid} is missing: expected ${join(privateDir, privateFileName(existing.kid))} (peers pin this key; restore it from the backup)`);
  } else {
    // A private half without its public file (the public file was deleted): rebuild the public file from it.
    const orphans = (await readdir(privateDir).catch(() => [] as string[])).filter((name) => name.startsWith(`${FEDERATION_ROOT_USE}.`) && name.endsWith('.jwk.json'));
    if (orphans.length === 1) {
      const kid = orphans[0]!.slice(FEDERATION_ROOT_USE.length + 1, -'.jwk.json'.length);
      const privateKey = await readPrivateKeyFile(join(privateDir, orphans[0]!));
      const jwk = publicOf(privateKey);
      if (jwkThumbprint(jwk) !== kid) throw new KeyMismatchError(`${join(privateDir, orphans[0]!)} does not hold the key its name says (${kid})`);
      await writePublic(path, { format: 'datarun-federation-root/1', kid, alg: FEDERATION_ROOT_ALG, jwk, createdAt: new Date(options.nowMs).toISOString() });
      return undefined;
    }
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  const full = privateKey.export({ format: 'jwk' }) as { x: string; d: string };
  const jwk: PublicJwk = { kty: 'OKP', crv: 'Ed25519', x: full.x };
  const kid = jwkThumbprint(jwk);
  const privatePath = join(privateDir, privateFileName(kid));
  // 'wx': never overwrite an existing key file.
  await writeFile(privatePath, `${JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: full.x, d: full.d, kid, alg: FEDERATION_ROOT_ALG, use: 'sig' }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(privatePath, 0o600);
  await writePublic(path, { format: 'datarun-federation-root/1', kid, alg: FEDERATION_ROOT_ALG, jwk, createdAt: new Date(options.nowMs).toISOString() });
  return kid;
}

function publicOf(privateKey: KeyObject): PublicJwk {
  const exported = createPublicKey(privateKey).export({ format: 'jwk' }) as { kty?: string; crv?: string; x?: string };
  if (exported.kty !== 'OKP' || exported.crv !== 'Ed25519' || typeof exported.x !== 'string') throw new KeyMismatchError('a federation root key must be an Ed25519 key');
  return { kty: 'OKP', crv: 'Ed25519', x: exported.x };
}

/** Loads the federation root key of a keys directory, or undefined when it has none (a directory made before federation existed and not initialised since). */
export async function loadFederationRoot(dir: string, privateDir: string): Promise<FederationRootKey | undefined> {
  const root = await readRootFile(join(dir, FEDERATION_ROOT_FILE));
  if (!root) return undefined;
  const path = join(privateDir, privateFileName(root.kid));
  const present = await stat(path).then(
    () => true,
    () => false,
  );
  if (!present) return undefined;
  const privateKey = await readPrivateKeyFile(path);
  if (publicOf(privateKey).x !== (root.jwk as { x: string }).x) throw new KeyMismatchError(`${path} does not hold the private key of the federation root ${root.kid}`);
  return { ...root, privateKey, publicKey: createPublicKey(privateKey) };
}
