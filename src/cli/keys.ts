import { initKeys, loadKeyStore, NoSigningKeyError, revokeKey, RevocationTimeError, rotateKey, SIGNING_ALGORITHMS, UnsupportedAlgorithmError, type KeyUse, type SigningAlgorithm } from '../seal';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_OWNERS, KEY_FILES, type OwnerSpec } from '../seal';
import { loadConfig, modulesOfConfig } from '../gateway';

/** Where command output goes (stdout by default; tests pass a collector). */
export type Output = (line: string) => void;

const stdout: Output = (line) => process.stdout.write(`${line}\n`);

async function printKeys(dir: string, out: Output): Promise<void> {
  const store = await loadKeyStore(dir);
  const rows = store.owners().flatMap((owner) =>
    store
      .trustList()
      .keys.filter((k) => k.owner === owner.id)
      .map((k) => {
        const state = k.revokedAt ? `revoked from ${k.revokedAt}` : k.validTo ? `verifies until ${k.validTo}` : 'active';
        const signing = store.currentKeyId(owner.id, k.use) === k.kid ? ' (signs)' : '';
        return `  ${owner.id.padEnd(20)} ${k.use.padEnd(10)} ${k.alg.padEnd(6)} ${k.kid.padEnd(44)} ${state}${signing}`;
      }),
  );
  out(`keys in ${dir}:`);
  for (const row of rows) out(row);
}

/**
 * Demo parties missing from a demo trust list (every party in it a sandbox one) made before they
 * existed, such as the citizen identity platform that signs consents; none for any other list.
 */
async function missingDemoOwners(dir: string): Promise<OwnerSpec[]> {
  if (!existsSync(join(dir, KEY_FILES.trustList))) return [];
  const owners = (await loadKeyStore(dir)).owners();
  if (!owners.every((o) => o.sandbox)) return [];
  return DEMO_OWNERS.filter((spec) => !owners.some((o) => o.id === spec.id));
}

/**
 * The departments a configuration runs, as trust-list parties: every connector found and not
 * disabled, a sandbox one when no settings of its own are configured (and sandboxes are on).
 */
export function configuredDepartments(file?: string): OwnerSpec[] {
  const config = loadConfig(file ? { file } : {});
  return modulesOfConfig(config)
    .filter((m) => config.connectors[m.id]?.enabled !== false)
    .map((m) => ({ id: m.id, kind: 'department' as const, name: m.title, custody: true, sandbox: !config.connectors[m.id] && config.sandbox.enabled }));
}

/**
 * `datarun keys init`: creates the trust list and every missing key (never overwrites one), then
 * lists the keys. `departments` (those of the configuration) are registered when missing, each
 * with a seal key the hub holds.
 */
export async function runKeysInit(options: { dir: string; departments?: readonly OwnerSpec[]; out?: Output }): Promise<void> {
  const out = options.out ?? stdout;
  const added = await missingDemoOwners(options.dir);
  const existing = existsSync(join(options.dir, KEY_FILES.trustList)) ? (await loadKeyStore(options.dir)).owners() : [];
  const newDepartments = (options.departments ?? []).filter((d) => !existing.some((o) => o.id === d.id));
  const report = await initKeys(options.dir, { ...(added.length > 0 ? { owners: added } : {}), departments: newDepartments });
  for (const spec of added) out(`registered demo party ${spec.id} (${spec.name})`);
  for (const spec of newDepartments) out(`registered department ${spec.id} (${spec.name})${spec.sandbox ? ', a sandbox' : ''}`);
  for (const kid of report.replaced) out(`replaced sandbox key ${kid} (its private key is not in this clone)`);
  for (const kid of report.created) out(`created ${kid}`);
  if (report.federationRoot) out(`created the federation root key ${report.federationRoot}: peer hubs pin it (datarun keys federation-root)`);
  if (!report.changed) out('nothing to do: every key is in place');
  await printKeys(options.dir, out);
}

function parseAlg(alg: string | undefined): SigningAlgorithm | undefined {
  if (alg === undefined) return undefined;
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(alg)) throw new UnsupportedAlgorithmError(`expected one of ${SIGNING_ALGORITHMS.join(', ')}, but got: ${alg}`);
  return alg as SigningAlgorithm;
}

/** `datarun keys rotate <owner>`: a new key signs from now on; the old ones keep verifying for `retainDays`. */
export async function runKeysRotate(options: { dir: string; owner: string; use?: KeyUse; alg?: string; retainDays?: number; out?: Output }): Promise<void> {
  const out = options.out ?? stdout;
  const alg = parseAlg(options.alg);
  const report = await rotateKey(options.dir, options.owner, {
    ...(options.use ? { use: options.use } : {}),
    ...(alg ? { alg } : {}),
    ...(options.retainDays !== undefined ? { retainUntil: new Date(Date.now() + options.retainDays * 86_400_000) } : {}),
  });
  for (const kid of report.created) out(`created ${kid}: signs from now on`);
  for (const { kid, validTo } of report.retired) out(`retired ${kid}: verifies until ${validTo}`);
  out('restart the hub (or every hub instance) to sign with the new key');
}

/**
 * `datarun keys revoke <kid> [--at <time>]`: the key verifies nothing signed at or after that
 * time and never signs again; revoking an owner's current key makes a new one that signs from
 * now on. A time before the key's validFrom is refused (ERR_REVOCATION_TIME_INVALID).
 */
export async function runKeysRevoke(options: { dir: string; kid: string; at?: string; out?: Output }): Promise<void> {
  const out = options.out ?? stdout;
  let at: Date | undefined;
  if (options.at !== undefined) {
    at = new Date(options.at);
    if (Number.isNaN(at.getTime())) throw new RevocationTimeError(`--at must be an ISO 8601 time, but got: ${options.at}`);
  }
  const report = await revokeKey(options.dir, options.kid, at);
  out(`revoked ${report.key.kid} from ${report.key.revokedAt}: it verifies nothing signed from then on`);
  for (const kid of report.created) out(`created ${kid} to sign in its place`);
  out('restart the hub (or every hub instance) to apply the revocation');
}

/**
 * `datarun keys federation-root`: the hub's federation root key as one JSON object
 * `{ hub, alg, jwk, thumbprint, createdAt }`, for the operator of a peer hub to pin (its
 * `federation.peers.<hub>.root`); exchanged out of band, the thumbprint read aloud or compared.
 */
export async function runKeysFederationRoot(options: { dir: string; out?: Output }): Promise<void> {
  const out = options.out ?? stdout;
  const root = (await loadKeyStore(options.dir)).federationRoot();
  if (!root) throw new NoSigningKeyError(`no federation root key in ${options.dir}: run \`datarun keys init\` to create one`);
  out(JSON.stringify({ hub: root.hub, alg: root.alg, jwk: root.jwk, thumbprint: root.thumbprint, createdAt: root.createdAt }, null, 2));
}
