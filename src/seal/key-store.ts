import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JWK } from 'node-jose';
import {
  InvalidKeyError,
  KeyMismatchError,
  KeyStoreLockedError,
  NoSigningKeyError,
  PrivateKeyMissingError,
  RevocationTimeError,
  TrustListInvalidError,
  UnknownKeyError,
  UnknownOwnerError,
  UnsupportedAlgorithmError,
} from './errors';
import { sha256Base64url } from './hash';
import { ALGORITHM_SPECS, isSigningAlgorithm, type SigningAlgorithm } from './jws';
import { ensureFederationRoot, FEDERATION_ROOT_FILE, loadFederationRoot, type FederationRootKey } from './federation-root';
import { buildJwks, type Jwks } from './jwks';
import { readPrivateKeyFile, readTextIfPresent } from './key-file';
import {
  DEFAULT_HUB_ID,
  DEFAULT_KEY_RETENTION_DAYS,
  DEMO_OWNERS,
  KEY_USES_BY_KIND,
  jwkMatchesAlg,
  ownerFromSpec,
  publicJwkSchema,
  trustListSchema,
  type KeyUse,
  type OwnerEntry,
  type OwnerSpec,
  type PublicJwk,
  type TrustList,
  type TrustListKey,
} from './trust';
import type { TrustedKey, TrustedKeys } from './trusted-keys';

/** File names inside a keys directory. */
export const KEY_FILES = { trustList: 'trust.json', jwks: 'jwks.json', federationRoot: FEDERATION_ROOT_FILE, privateDir: 'private', lock: '.lock' } as const;

const DAY_MS = 86_400_000;

/** The hub's keys, loaded once: the trust list, a public KeyObject per key, and the private keys the hub holds. */
export interface KeyStore extends TrustedKeys {
  /** The keys directory this store was loaded from. */
  readonly dir: string;
  /** The hub's id (`iss` of receipts, `aud` of requests). */
  readonly hubId: string;
  /** The party with this id, or undefined. */
  owner(id: string): OwnerEntry | undefined;
  /** Every party in the trust list. */
  owners(): readonly OwnerEntry[];
  /** The trust list as loaded (public: no private key material). */
  trustList(): TrustList;
  /** The JWKS to publish at `GET /.well-known/jwks.json`: public seal, receipt and checkpoint keys. */
  publicJwks(): Jwks;
  /** The kid that signs for this owner and use now, or undefined when the hub holds none. */
  currentKeyId(owner: string, use: KeyUse): string | undefined;
  /** Path of the private JWK file that signs for this owner now (sandbox consumers: for the CLI and tests), or undefined. */
  privateKeyPath(owner: string, use?: KeyUse): string | undefined;
  /** The public half of the hub's federation root key (what peers pin), or undefined when the directory has none. */
  federationRoot(): FederationRootInfo | undefined;
}

/** The public facts of a hub's federation root key, as `datarun keys federation-root` prints them for a peer's operator to pin. */
export interface FederationRootInfo {
  readonly hub: string;
  /** The RFC 7638 SHA-256 thumbprint of `jwk`, also the kid of the statements it signs. */
  readonly thumbprint: string;
  readonly alg: 'EdDSA';
  readonly jwk: PublicJwk;
  readonly createdAt: string;
}

/** A private key the hub signs with, imported once. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly owner: string;
  readonly privateKey: KeyObject;
}

interface SigningCandidate extends SigningKey {
  readonly validFrom: number;
  readonly validTo: number | undefined;
  readonly revokedAt: number | undefined;
  readonly path: string;
}

const internals = new WeakMap<KeyStore, Map<string, SigningCandidate[]>>();
const federationRoots = new WeakMap<KeyStore, FederationRootKey>();

/** Options of `initKeys` and `createKeyStore`. */
export interface InitKeysOptions {
  /** Parties of a new trust list, or parties to add to an existing one. @default DEMO_OWNERS (only when the trust list is created) */
  readonly owners?: readonly OwnerSpec[];
  /** Departments to register when they are not in the trust list yet (the sandbox departments the hub runs), besides `owners`. */
  readonly departments?: readonly OwnerSpec[];
  /** The hub's id in a new trust list. @default DEFAULT_HUB_ID */
  readonly hubId?: string;
  /** The time to create keys at. @default now */
  readonly now?: Date;
}

/** What `initKeys` did: kids created, and kids of sandbox keys dropped because their private half was missing. */
export interface InitKeysReport {
  readonly created: readonly string[];
  readonly replaced: readonly string[];
  /** Whether the trust list, the JWKS file or the federation root file was (re)written. */
  readonly changed: boolean;
  /** The thumbprint of the federation root key, when one was created (peers must pin it). */
  readonly federationRoot?: string;
}

/** Path of the private JWK file of a kid inside a keys directory. */
export function privateKeyFile(dir: string, kid: string): string {
  return join(dir, KEY_FILES.privateDir, `${kid}.jwk.json`);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lockPath = join(dir, KEY_FILES.lock);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const held = await stat(lockPath).catch(() => undefined);
      if (held && Date.now() - held.mtimeMs > 30_000) {
        await rm(lockPath, { force: true }); // left behind by a process that died
        continue;
      }
      if (Date.now() > deadline) throw new KeyStoreLockedError(`the keys directory ${dir} is locked by another process (${lockPath})`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockPath, { force: true });
  }
}

async function readTrustList(dir: string): Promise<TrustList | undefined> {
  const path = join(dir, KEY_FILES.trustList);
  const text = await readTextIfPresent(path);
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new TrustListInvalidError(`${path} is not JSON`, { cause: error });
  }
  const result = trustListSchema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `  - ${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new TrustListInvalidError(`Invalid trust list ${path}:\n${issues.join('\n')}`);
  }
  return result.data as TrustList;
}

async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, path);
}

/** Writes trust.json and jwks.json when their content changed; true when something was written. */
async function saveTrustList(dir: string, trust: TrustList, nowMs: number): Promise<boolean> {
  let changed = false;
  const files: Array<[string, string]> = [
    [join(dir, KEY_FILES.trustList), `${JSON.stringify(trust, null, 2)}\n`],
    [join(dir, KEY_FILES.jwks), `${JSON.stringify(buildJwks(trust, nowMs), null, 2)}\n`],
  ];
  for (const [path, text] of files) {
    const current = await readFile(path, 'utf8').catch(() => undefined);
    if (current === text) continue;
    await writeAtomically(path, text, 0o644);
    changed = true;
  }
  return changed;
}

interface GeneratedKey {
  readonly publicJwk: PublicJwk;
  readonly privateJwk: Record<string, string>;
  readonly thumbprint: string;
}

/** RFC 7638 SHA-256 thumbprint of an EC key via node-jose (which resolves a Buffer, whatever its typings say). */
async function thumbprintBase64url(key: JWK.Key): Promise<string> {
  const digest = (await key.thumbprint('SHA-256')) as unknown as Buffer;
  return digest.toString('base64url');
}

/** RFC 7638 thumbprint of an OKP key (node-jose 2 has no OKP support). */
function okpThumbprint(x: string): string {
  return sha256Base64url(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`);
}

async function thumbprintOf(jwk: PublicJwk): Promise<string> {
  if (jwk.kty === 'OKP') return okpThumbprint(jwk.x);
  return thumbprintBase64url(await JWK.asKey({ ...jwk }));
}

/** Generates a key pair for a pinned algorithm: EC keys with node-jose, Ed25519 with node:crypto. */
async function generateKey(alg: SigningAlgorithm): Promise<GeneratedKey> {
  const spec = ALGORITHM_SPECS[alg];
  if (spec.kty === 'OKP') {
    const { privateKey } = generateKeyPairSync('ed25519');
    const jwk = privateKey.export({ format: 'jwk' }) as { x: string; d: string };
    return { publicJwk: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, privateJwk: { kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d }, thumbprint: okpThumbprint(jwk.x) };
  }
  const key = await JWK.createKey('EC', spec.crv, { alg, use: 'sig' });
  const full = key.toJSON(true) as { crv: 'P-256' | 'P-384'; x: string; y: string; d: string };
  const thumbprint = await thumbprintBase64url(key);
  return {
    publicJwk: { kty: 'EC', crv: full.crv, x: full.x, y: full.y },
    privateJwk: { kty: 'EC', crv: full.crv, x: full.x, y: full.y, d: full.d },
    thumbprint,
  };
}

function newKid(owner: string, use: KeyUse, thumbprint: string): string {
  return `${owner}.${use}.${thumbprint.slice(0, 16)}`;
}

async function writePrivateKey(dir: string, kid: string, alg: SigningAlgorithm, privateJwk: Record<string, string>): Promise<void> {
  const path = privateKeyFile(dir, kid);
  // 'wx': never overwrite an existing key file.
  await writeFile(path, `${JSON.stringify({ ...privateJwk, kid, alg, use: 'sig' }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(path, 0o600);
}

const iso = (ms: number): string => new Date(ms).toISOString();
const ms = (text: string | null): number | undefined => (text === null ? undefined : Date.parse(text));

/**
 * A key that may sign: its owner's current key, never revoked (not even from a future time) and
 * never rotated out. A retired key only verifies what it signed before; it never signs again,
 * even when it is the newest key left after a revocation (a new key is made instead).
 */
function isSigningCapable(key: { readonly revokedAt: unknown; readonly validTo: unknown }): boolean {
  return (key.revokedAt === null || key.revokedAt === undefined) && (key.validTo === null || key.validTo === undefined);
}

/** A key still able to verify something at `nowMs`. */
function isLive(key: TrustListKey, nowMs: number): boolean {
  return (key.revokedAt === null || Date.parse(key.revokedAt) > nowMs) && (key.validTo === null || Date.parse(key.validTo) > nowMs);
}

/**
 * Makes sure every owner whose keys the hub holds has a signing key per use, with its private
 * file present. Sandbox owners' live keys whose private file is missing (a fresh clone of the
 * committed demo trust list) are dropped and replaced; for any other owner that is an error.
 */
async function ensureKeys(dir: string, trust: TrustList, nowMs: number, created: string[], replaced: string[]): Promise<TrustList> {
  const owners = new Map(trust.owners.map((o) => [o.id, o]));
  const keys: TrustListKey[] = [];
  const missing: string[] = [];
  for (const key of trust.keys) {
    const owner = owners.get(key.owner)!;
    if (owner.custody && isLive(key, nowMs) && !(await exists(privateKeyFile(dir, key.kid)))) {
      if (!owner.sandbox) missing.push(`${key.kid} (${owner.id}, ${key.use}): expected ${privateKeyFile(dir, key.kid)}`);
      else replaced.push(key.kid);
      continue;
    }
    keys.push(key);
  }
  if (missing.length > 0) throw new PrivateKeyMissingError(`private keys the hub must hold are missing:\n  - ${missing.join('\n  - ')}`);
  for (const owner of trust.owners) {
    if (!owner.custody) continue;
    for (const use of KEY_USES_BY_KIND[owner.kind]) {
      if (keys.some((k) => k.owner === owner.id && k.use === use && isSigningCapable(k))) continue;
      keys.push(await createKeyEntry(dir, owner, use, owner.alg, nowMs));
      created.push(keys[keys.length - 1]!.kid);
    }
  }
  return { ...trust, keys };
}

async function createKeyEntry(dir: string, owner: OwnerEntry, use: KeyUse, alg: SigningAlgorithm, nowMs: number): Promise<TrustListKey> {
  const generated = await generateKey(alg);
  const kid = newKid(owner.id, use, generated.thumbprint);
  await writePrivateKey(dir, kid, alg, generated.privateJwk);
  return { kid, owner: owner.id, use, alg, validFrom: iso(nowMs), validTo: null, revokedAt: null, jwk: generated.publicJwk };
}

async function prepareDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await mkdir(join(dir, KEY_FILES.privateDir), { recursive: true, mode: 0o700 });
}

async function requireTrustList(dir: string): Promise<TrustList> {
  const trust = await readTrustList(dir);
  if (!trust) throw new TrustListInvalidError(`no trust list in ${dir}: run \`datarun keys init\` first`);
  return trust;
}

/**
 * Creates what is missing in a keys directory, never overwriting a key: the trust list (from
 * `owners`, the demo parties by default), and a signing key for every use of every owner whose
 * keys the hub holds. Idempotent; safe to call at every start-up.
 */
export async function initKeys(dir: string, options: InitKeysOptions = {}): Promise<InitKeysReport> {
  await prepareDir(dir);
  return withLock(dir, async () => {
    const nowMs = toNowMs(options.now);
    const existing = await readTrustList(dir);
    let trust: TrustList = existing ?? { format: 'datarun-trust-list/1', hub: options.hubId ?? DEFAULT_HUB_ID, owners: [], keys: [] };
    const specs = [...(options.owners ?? (existing ? [] : DEMO_OWNERS)), ...(options.departments ?? [])];
    const added = specs.filter((spec, i) => !trust.owners.some((o) => o.id === spec.id) && specs.findIndex((o) => o.id === spec.id) === i).map(ownerFromSpec);
    if (added.length > 0) trust = { ...trust, owners: [...trust.owners, ...added] };
    const parsed = trustListSchema.safeParse(trust);
    if (!parsed.success) throw new TrustListInvalidError(`Invalid owners: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    const created: string[] = [];
    const replaced: string[] = [];
    trust = await ensureKeys(dir, trust, nowMs, created, replaced);
    const hubOwner = trust.owners.find((o) => o.id === trust.hub);
    const root = await ensureFederationRoot(dir, join(dir, KEY_FILES.privateDir), { nowMs, sandbox: hubOwner?.sandbox ?? false });
    const changed = (await saveTrustList(dir, trust, nowMs)) || root !== undefined;
    return { created, replaced, changed, ...(root ? { federationRoot: root } : {}) };
  });
}

function toNowMs(now: Date | undefined): number {
  return now ? now.getTime() : Date.now();
}

async function readPrivateKey(path: string, entry: TrustListKey): Promise<KeyObject> {
  const privateKey = await readPrivateKeyFile(path);
  const derived = createPublicKey(privateKey).export({ format: 'jwk' }) as Record<string, unknown>;
  const jwk = entry.jwk as Record<string, unknown>;
  if (derived.x !== jwk.x || derived.y !== jwk.y || derived.crv !== jwk.crv) {
    throw new KeyMismatchError(`${path} does not hold the private key of ${entry.kid}`);
  }
  return privateKey;
}

/** Loads a keys directory (trust list, public keys, the private keys the hub holds), importing every key once. */
export async function loadKeyStore(dir: string, options: { now?: Date } = {}): Promise<KeyStore> {
  const trust = await requireTrustList(dir);
  const nowMs = toNowMs(options.now);
  const owners = new Map(trust.owners.map((o) => [o.id, o]));
  const keys = new Map<string, TrustedKey>();
  const candidates = new Map<string, SigningCandidate[]>();
  for (const entry of trust.keys) {
    const owner = owners.get(entry.owner)!;
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: { ...entry.jwk }, format: 'jwk' });
    } catch (error) {
      throw new TrustListInvalidError(`the public key of ${entry.kid} is not a valid ${entry.alg} key`, { cause: error });
    }
    const trusted: TrustedKey = {
      kid: entry.kid,
      owner: entry.owner,
      ownerKind: owner.kind,
      use: entry.use,
      alg: entry.alg,
      validFrom: Date.parse(entry.validFrom),
      validTo: ms(entry.validTo),
      revokedAt: ms(entry.revokedAt),
      publicKey,
    };
    keys.set(entry.kid, trusted);
    const path = privateKeyFile(dir, entry.kid);
    if (!owner.custody || !isSigningCapable(entry) || !(await exists(path))) continue;
    const privateKey = await readPrivateKey(path, entry);
    const slot = `${entry.owner}\u0000${entry.use}`;
    const list = candidates.get(slot) ?? [];
    list.push({ kid: entry.kid, alg: entry.alg, owner: entry.owner, privateKey, validFrom: trusted.validFrom, validTo: trusted.validTo, revokedAt: trusted.revokedAt, path });
    candidates.set(slot, list);
  }
  // Only current keys are candidates (retired ones are left out above); newest first.
  for (const list of candidates.values()) list.sort((a, b) => b.validFrom - a.validFrom);
  const jwks = buildJwks(trust, nowMs);
  const root = await loadFederationRoot(dir, join(dir, KEY_FILES.privateDir));
  const rootInfo: FederationRootInfo | undefined = root && { hub: trust.hub, thumbprint: root.kid, alg: root.alg, jwk: root.jwk, createdAt: root.createdAt };
  const store: KeyStore = {
    dir,
    hubId: trust.hub,
    owner: (id) => owners.get(id),
    owners: () => trust.owners,
    trustList: () => trust,
    publicJwks: () => jwks,
    resolveKey: (kid) => keys.get(kid),
    currentKeyId: (owner, use) => pickSigningKey(candidates, owner, use, Date.now())?.kid,
    privateKeyPath: (owner, use) => {
      const kind = owners.get(owner)?.kind;
      const chosen = kind && pickSigningKey(candidates, owner, use ?? KEY_USES_BY_KIND[kind][0]!, Date.now());
      return chosen ? chosen.path : undefined;
    },
    federationRoot: () => rootInfo,
  };
  internals.set(store, candidates);
  if (root) federationRoots.set(store, root);
  return store;
}

function pickSigningKey(candidates: Map<string, SigningCandidate[]>, owner: string, use: KeyUse, nowMs: number): SigningCandidate | undefined {
  const list = candidates.get(`${owner}\u0000${use}`);
  if (!list) return undefined;
  for (const key of list) {
    if (key.validFrom > nowMs + 60_000 || !isSigningCapable(key)) continue;
    return key;
  }
  return undefined;
}

/** The private key that signs for `owner` and `use` at `nowMs`; throws NoSigningKeyError when the hub holds none. */
export function signingKeyFor(store: KeyStore, owner: string, use: KeyUse, nowMs: number): SigningKey {
  const candidates = internals.get(store);
  if (!candidates) throw new NoSigningKeyError('expected a key store made by loadKeyStore or createKeyStore');
  const key = pickSigningKey(candidates, owner, use, nowMs);
  if (!key) {
    if (!store.owner(owner)) throw new UnknownOwnerError(`unknown owner: ${owner}`);
    throw new NoSigningKeyError(`no valid ${use} key to sign for ${owner}`);
  }
  return key;
}

/** The hub's federation root key (private half included) of a loaded store: only the JWKS statement signer uses it. Throws NoSigningKeyError when the store has none. */
export function federationRootKeyOf(store: KeyStore): FederationRootKey {
  const root = federationRoots.get(store);
  if (!root) throw new NoSigningKeyError(`no federation root key in ${store.dir}: run \`datarun keys init\` to create one`);
  return root;
}

/** What the hub calls at start-up: `initKeys` (create what is missing), then `loadKeyStore`. */
export async function createKeyStore(dir: string, options: InitKeysOptions = {}): Promise<KeyStore> {
  await initKeys(dir, options);
  return loadKeyStore(dir, options.now ? { now: options.now } : {});
}

/** Options of `rotateKey`. */
export interface RotateKeyOptions {
  /** Rotate only this use (the hub has two: receipt and checkpoint). @default every use of the owner */
  readonly use?: KeyUse;
  /** Algorithm of the new key. @default the owner's algorithm */
  readonly alg?: SigningAlgorithm;
  /** Until when the rotated-out keys keep verifying. @default now + DEFAULT_KEY_RETENTION_DAYS[use] */
  readonly retainUntil?: Date;
  /** The new public key, for an owner whose private keys the hub does not hold (a consumer's own key pair). */
  readonly publicJwk?: PublicJwk;
  /** @default now */
  readonly now?: Date;
}

/** What `rotateKey` did: the new kids, and the old kids with the time they stop verifying. */
export interface RotateKeyReport {
  readonly created: readonly string[];
  readonly retired: ReadonlyArray<{ readonly kid: string; readonly validTo: string }>;
}

/** Gives an owner a new key per use (the new kid signs from now on); old keys keep verifying until their `validTo`. */
export async function rotateKey(dir: string, ownerId: string, options: RotateKeyOptions = {}): Promise<RotateKeyReport> {
  await prepareDir(dir);
  return withLock(dir, async () => {
    const nowMs = toNowMs(options.now);
    const trust = await requireTrustList(dir);
    const owner = trust.owners.find((o) => o.id === ownerId);
    if (!owner) throw new UnknownOwnerError(`unknown owner: ${ownerId}`);
    const uses = options.use ? [options.use] : KEY_USES_BY_KIND[owner.kind];
    if (!uses.every((u) => KEY_USES_BY_KIND[owner.kind].includes(u))) throw new UnknownKeyError(`a ${owner.kind} has no ${options.use} key`);
    if (options.alg !== undefined && !isSigningAlgorithm(options.alg)) throw new UnsupportedAlgorithmError(`expected one of ES256, ES384, EdDSA, but got: ${String(options.alg)}`);
    if (!owner.custody && !options.publicJwk) throw new InvalidKeyError(`the hub does not hold the keys of ${ownerId}: pass the new public JWK`);
    let keys = [...trust.keys];
    const created: string[] = [];
    const retired: Array<{ kid: string; validTo: string }> = [];
    for (const use of uses) {
      const alg = options.alg ?? owner.alg;
      const retainUntil = options.retainUntil ? options.retainUntil.getTime() : nowMs + DEFAULT_KEY_RETENTION_DAYS[use] * DAY_MS;
      keys = keys.map((k) => {
        if (k.owner !== owner.id || k.use !== use || !isLive(k, nowMs)) return k;
        if (k.validTo !== null && Date.parse(k.validTo) <= retainUntil) return k;
        retired.push({ kid: k.kid, validTo: iso(retainUntil) });
        return { ...k, validTo: iso(retainUntil) };
      });
      let entry: TrustListKey;
      if (owner.custody) {
        entry = await createKeyEntry(dir, owner, use, alg, nowMs);
      } else {
        const parsed = publicJwkSchema.safeParse(options.publicJwk);
        if (!parsed.success || !jwkMatchesAlg(parsed.data, alg)) throw new InvalidKeyError(`expected a public ${alg} JWK (no private members)`);
        try {
          createPublicKey({ key: { ...parsed.data }, format: 'jwk' });
        } catch (error) {
          throw new InvalidKeyError(`expected a public ${alg} JWK`, { cause: error });
        }
        const kid = newKid(owner.id, use, await thumbprintOf(parsed.data));
        if (keys.some((k) => k.kid === kid)) throw new InvalidKeyError(`the key ${kid} is already registered`);
        entry = { kid, owner: owner.id, use, alg, validFrom: iso(nowMs), validTo: null, revokedAt: null, jwk: parsed.data };
      }
      keys.push(entry);
      created.push(entry.kid);
    }
    await saveTrustList(dir, { ...trust, keys }, nowMs);
    return { created, retired };
  });
}

/** Options of `revokeKey`. */
export interface RevokeKeyOptions {
  /** @default now */
  readonly now?: Date;
}

/** What `revokeKey` did: the revoked entry, and kids created to replace it as a signing key. */
export interface RevokeKeyReport {
  readonly key: TrustListKey;
  readonly created: readonly string[];
}

/**
 * Revokes a key from `at` (default: now): it verifies nothing signed at or after that time, and
 * it never signs again. An earlier revocation time is never moved later; a time before the
 * key's `validFrom` is refused (RevocationTimeError). When the revoked key was its owner's
 * current key and the hub holds the owner's keys, a new key is created at once and signs from
 * now on: never a key rotated out or revoked before.
 */
export async function revokeKey(dir: string, kid: string, at?: Date, options: RevokeKeyOptions = {}): Promise<RevokeKeyReport> {
  await prepareDir(dir);
  return withLock(dir, async () => {
    const nowMs = toNowMs(options.now);
    const revokeAt = at ? at.getTime() : nowMs;
    const trust = await requireTrustList(dir);
    const index = trust.keys.findIndex((k) => k.kid === kid);
    if (index < 0) throw new UnknownKeyError(`unknown key: ${kid}`);
    const keys = [...trust.keys];
    const old = keys[index]!;
    if (!Number.isFinite(revokeAt)) throw new RevocationTimeError(`cannot revoke ${kid}: expected a valid revocation time`);
    if (revokeAt < Date.parse(old.validFrom)) throw new RevocationTimeError(`cannot revoke ${kid} from ${iso(revokeAt)}: that is before the key's validFrom ${old.validFrom}`);
    const revokedAt = old.revokedAt !== null && Date.parse(old.revokedAt) <= revokeAt ? old.revokedAt : iso(revokeAt);
    keys[index] = { ...old, revokedAt };
    const created: string[] = [];
    const next = await ensureKeys(dir, { ...trust, keys }, nowMs, created, []);
    await saveTrustList(dir, next, nowMs);
    return { key: keys[index]!, created };
  });
}
