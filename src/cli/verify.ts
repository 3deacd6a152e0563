import { readFile } from 'node:fs/promises';
import {
  CHECKPOINT_TOKEN_TYPE,
  RECEIPT_TOKEN_TYPE,
  SEAL_TOKEN_TYPE,
  FEDERATION_STATEMENT_PATH,
  importJwks,
  loadJwks,
  pinnedRootThumbprint,
  verifyPeerJwks,
  type PinnedRoot,
  verifyCheckpoint,
  verifyReceipt,
  verifySeal,
  JwksUnavailableError,
  type TrustedKeys,
} from '../seal';
import {
  PROOF_BUNDLE_TOKEN_TYPE,
  PROOF_QR_PREFIX,
  PROOF_STATUS_ZH,
  PROOF_TOKEN_TYPE,
  beijingTime,
  decodeProofFromQr,
  proofReasonZh,
  splitProofBundle,
  verifyProof,
  verifyProofBundle,
  type ProofVerified,
  type StatusListSource,
  type VerifyProofOptions,
} from '../proofs';
import { CLI_EXIT } from '../sdk';
import { CliUsageError } from './exit';
import type { Output } from './keys';

const stdout: Output = (line) => process.stdout.write(`${line}\n`);

/** Options of `datarun verify`. */
export interface VerifyCommandOptions {
  /** The token itself, `@file` to read it from a file, or `-` to read it from stdin. */
  readonly token: string;
  /** A JWKS file path, or an http(s) URL such as `https://hub/.well-known/jwks.json`. Either this or `peer`. */
  readonly jwks?: string;
  /** A peer hub's JWKS statement: a file, or an http(s) URL (the hub's base URL, or the statement's own). Needs `root`. */
  readonly peer?: string;
  /** The peer's pinned federation root: its RFC 7638 thumbprint, or a file holding its public JWK or `datarun keys federation-root`'s output. */
  readonly root?: string;
  /** The peer's hub id, which the statement's `iss` must be. @default the `hub` of the root file, else not checked (printed) */
  readonly peerHub?: string;
  /** Accept a peer statement past its `exp` (the keys the peer published then; said so in the output). @default false */
  readonly allowExpired?: boolean;
  /** Print the disclosed values of a seal, not only the field names. @default false */
  readonly showValues?: boolean;
  /** @default now */
  readonly now?: Date;
  readonly out?: Output;
  /** A proof: do not fetch its status list (the status is reported unchecked). @default false */
  readonly offline?: boolean;
  /** A bound proof: the nonce this verifier gave the holder (the KB-JWT's `nonce` must equal it). */
  readonly nonce?: string;
  /** A bound proof: this verifier's id (the KB-JWT's `aud` must equal it). */
  readonly aud?: string;
  /** How a proof's Status List Token is fetched from its `uri`. @default an http(s) GET, 10 s at most */
  readonly fetchStatusList?: (uri: string) => Promise<string>;
}

/** Longest wait for a status list, in ms. */
const STATUS_TIMEOUT_MS = 10_000;

/** GET of a Status List Token over http(s): the body of a 200, anything else an error naming the status. */
async function fetchStatusList(uri: string): Promise<string> {
  const url = new URL(uri);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`the status list URI ${uri} is not http(s)`);
  const res = await fetch(url, { headers: { accept: 'application/statuslist+jwt' }, signal: AbortSignal.timeout(STATUS_TIMEOUT_MS), redirect: 'error' });
  if (!res.ok) throw new Error(`GET ${uri} answered ${res.status}`);
  return (await res.text()).trim();
}

async function readToken(source: string): Promise<string> {
  if (source === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').trim();
  }
  if (source.startsWith('@')) return (await readFile(source.slice(1), 'utf8')).trim();
  return source.trim();
}

function typeOf(token: string): string | undefined {
  try {
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { typ?: unknown };
    return typeof header.typ === 'string' ? header.typ : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `datarun verify <token> --jwks <file|url>` (or `--peer <statement> --root <root>`: a peer hub's keys, through the root pinned for it): verifies a proof (see verifyProofToken), a seal (SD-JWT), a receipt or a
 * checkpoint offline against a JWKS, prints a human result, and returns the exit code
 * (0 valid, 6 invalid: CLI_EXIT.VERIFY_FAILED). An unreadable token file or JWKS throws (exit 2).
 */
export async function runVerify(options: VerifyCommandOptions): Promise<number> {
  const out = options.out ?? stdout;
  const token = await readToken(options.token);
  const now = options.now ?? new Date();
  if ((options.jwks === undefined) === (options.peer === undefined)) throw new CliUsageError('give either --jwks <file|url> or --peer <statement file|url> with --root');
  let keys: TrustedKeys;
  if (options.peer !== undefined) {
    const peerKeys = await loadPeerKeys(options.peer, options, now, out);
    if (!peerKeys) return CLI_EXIT.VERIFY_FAILED;
    keys = peerKeys;
  } else {
    keys = importJwks(await loadJwks(options.jwks!));
  }
  const typ = typeOf(token);
  if (token.startsWith(PROOF_QR_PREFIX) || /^https?:\/\//i.test(token) || typ === PROOF_TOKEN_TYPE || typ === PROOF_BUNDLE_TOKEN_TYPE) return verifyProofToken(token, keys, now, options, out);
  const kind = token.includes('~') || typ === SEAL_TOKEN_TYPE ? 'seal' : typ === RECEIPT_TOKEN_TYPE ? 'receipt' : typ === CHECKPOINT_TOKEN_TYPE ? 'checkpoint' : undefined;
  if (kind === 'seal') {
    const result = verifySeal(token, { jwks: keys, now });
    if (!result.valid) return invalid(out, result.message, result.reason, result.keyId);
    out('VALID seal');
    out(`  issuer     ${result.issuer} (key ${result.keyId}, ${result.algorithm})`);
    out(`  issued     ${result.issuedAt.toISOString()}`);
    out(`  record     ${result.recordType} ${result.recordId}`);
    const names = Object.keys(result.disclosed);
    if (!options.showValues) out(`  disclosed  ${names.length > 0 ? names.join(', ') : '(no fields)'}`);
    else for (const name of names) out(`  ${name.padEnd(10)} ${JSON.stringify(result.disclosed[name])}`);
    return 0;
  }
  if (kind === 'receipt') {
    const result = verifyReceipt(token, { jwks: keys, now });
    if (!result.valid) return invalid(out, result.message, result.reason, result.keyId);
    const r = result.receipt;
    out('VALID receipt');
    out(`  issuer     ${result.issuer} (key ${result.keyId}, ${result.algorithm})`);
    out(`  issued     ${result.issuedAt.toISOString()}`);
    out(`  request    ${r.requestId} by ${r.consumer} at ${r.time}`);
    out(`  purpose    ${r.purpose}  case ${r.case}  operator ${r.operator}`);
    out(`  hashes     query ${r.queryHash}${r.variablesHash ? `  variables ${r.variablesHash}` : ''}  data ${r.dataHash}`);
    if (r.auditSeq !== undefined) out(`  audit seq  ${r.auditSeq}`);
    return 0;
  }
  if (kind === 'checkpoint') {
    const result = verifyCheckpoint(token, { jwks: keys, now });
    if (!result.valid) return invalid(out, result.message, result.reason, result.keyId);
    out('VALID checkpoint');
    out(`  issuer     ${result.issuer} (key ${result.keyId}, ${result.algorithm})`);
    out(`  issued     ${result.issuedAt.toISOString()}`);
    for (const [name, value] of Object.entries(result.claims)) if (name !== 'iss' && name !== 'iat') out(`  ${name.padEnd(10)} ${JSON.stringify(value)}`);
    return 0;
  }
  return invalid(out, 'not a datarun seal, receipt, checkpoint or proof', 'MALFORMED', undefined);
}

/** The value of a disclosed claim on one line. */
const claimText = (value: unknown): string => (value === true ? '是 (true)' : value === false ? '否 (false)' : typeof value === 'string' ? value : JSON.stringify(value));

/**
 * A proof (an SD-JWT VC `dc+sd-jwt`, a bundle `<envelope>,<part>,…`, or a QR payload `DRP1:…`): verified against the JWKS, its
 * status fetched from its list's `uri` unless offline; what it proves printed in Chinese. Exit 0
 * when valid and not suspended, 6 otherwise; a QR code holding only a reference URL is a usage error.
 */
async function verifyProofToken(text: string, keys: TrustedKeys, now: Date, options: VerifyCommandOptions, out: Output): Promise<number> {
  let token = text;
  if (!text.includes('~') || text.startsWith(PROOF_QR_PREFIX)) {
    let decoded;
    try {
      decoded = decodeProofFromQr(text);
    } catch (error) {
      return invalid(out, `二维码内容无法识别：${(error as Error).message}`, 'PROOF_QR_INVALID', undefined);
    }
    if (!('token' in decoded)) throw new CliUsageError(`this QR code holds only the address of a stored proof (${decoded.reference}): open it in a browser, or verify it at the hub's /verify page`);
    token = decoded.token;
  }
  const statusList: StatusListSource | undefined = options.offline ? undefined : (options.fetchStatusList ?? fetchStatusList);
  const verifyOptions: VerifyProofOptions = {
    keys: { jwks: keys },
    now,
    statusTimeoutMs: STATUS_TIMEOUT_MS,
    ...(statusList ? { statusList } : {}),
    ...(options.nonce !== undefined ? { expectedNonce: options.nonce } : {}),
    ...(options.aud !== undefined ? { expectedAudience: options.aud } : {}),
  };
  const bundle = splitProofBundle(token);
  if (bundle) {
    // A bundle: the hub's envelope, then each department's own proof.
    const checked = await verifyProofBundle(bundle.envelope, bundle.parts, verifyOptions);
    if (!checked.valid) {
      out(`无效 INVALID: ${proofReasonZh(checked.partReason ?? checked.reason)} (${checked.reason}${checked.partReason ? `: ${checked.partReason}` : ''})`);
      out(`  详情       ${checked.detail}`);
      return CLI_EXIT.VERIFY_FAILED;
    }
    const suspended = checked.status === 'SUSPENDED' || checked.parts.some((p) => p.status === 'SUSPENDED');
    out(`${suspended ? '已暂停 SUSPENDED' : '有效 VALID'} 组合证明 ${checked.kind}（${checked.parts.length} 份部门证明，平台签名封套）`);
    out(`  证明对象   ${checked.subject}`);
    out(`  事由       ${checked.purpose}`);
    out(`  签发时间   ${beijingTime(checked.issuedAt)}`);
    out(`  有效期至   ${beijingTime(checked.expiresAt)}`);
    out(`  状态       ${PROOF_STATUS_ZH[checked.status]}${options.offline ? '（--offline）' : ''}`);
    for (const [i, part] of checked.parts.entries()) {
      out(`  ${i + 1}. 证明 ${part.kind}`);
      printProof(part, options, out, '     ');
    }
    return suspended ? CLI_EXIT.VERIFY_FAILED : 0;
  }
  const result = await verifyProof(token, verifyOptions);
  if (!result.valid) {
    out(`无效 INVALID: ${proofReasonZh(result.reason)} (${result.reason})`);
    out(`  详情       ${result.detail}`);
    return CLI_EXIT.VERIFY_FAILED;
  }
  const suspended = result.status === 'SUSPENDED';
  out(`${suspended ? '已暂停 SUSPENDED' : '有效 VALID'} 证明 ${result.kind}`);
  printProof(result, options, out, '  ');
  return suspended ? CLI_EXIT.VERIFY_FAILED : 0;
}

/** What a verified proof says, one line a fact, in Chinese. */
function printProof(result: ProofVerified, options: VerifyCommandOptions, out: Output, indent: string): void {
  const claims = Object.entries(result.disclosed);
  if (claims.length === 0) out(`${indent}证明内容   （未出示任何项目）`);
  for (const [i, [name, value]] of claims.entries()) out(`${indent}${i === 0 ? '证明内容' : '        '}   ${name}: ${claimText(value)}`);
  out(`${indent}签发部门   ${result.department}（密钥 ${result.keyId}）`);
  out(`${indent}截至时间   ${beijingTime(result.asOf)}`);
  out(`${indent}事由       ${result.purpose}`);
  out(`${indent}签发时间   ${beijingTime(result.issuedAt)}`);
  out(`${indent}有效期至   ${beijingTime(result.expiresAt)}`);
  out(`${indent}持有人     ${result.holderBound ? `已绑定，持有人签名已核验${result.presentedAt ? `（出示于 ${beijingTime(result.presentedAt)}）` : ''}${options.nonce === undefined ? '；未给 --nonce：无法排除重放' : ''}` : '未绑定持有人，适用于纸质'}`);
  out(`${indent}状态       ${PROOF_STATUS_ZH[result.status]}${options.offline ? '（--offline）' : ''}`);
}

const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

/** `--root`: a thumbprint, or a file with a public JWK or `{ hub, jwk, thumbprint }` (what `datarun keys federation-root` prints). */
async function readRoot(source: string): Promise<{ root: PinnedRoot; hub: string | undefined }> {
  if (THUMBPRINT.test(source)) return { root: source, hub: undefined };
  let json: unknown;
  try {
    json = JSON.parse(await readFile(source, 'utf8'));
  } catch (error) {
    throw new CliUsageError(`--root: expected a root thumbprint (43 base64url characters) or a JSON file holding the root's public JWK, but ${source} ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'is not JSON'}`);
  }
  const file = json as { hub?: unknown; jwk?: unknown; thumbprint?: unknown } | null;
  const root = (file && typeof file === 'object' && 'jwk' in file ? file.jwk : json) as PinnedRoot;
  let thumbprint: string;
  try {
    thumbprint = pinnedRootThumbprint(root);
  } catch (error) {
    throw new CliUsageError(`--root ${source}: ${(error as Error).message}`);
  }
  if (file && typeof file.thumbprint === 'string' && file.thumbprint !== thumbprint) throw new CliUsageError(`--root ${source}: its thumbprint is not the RFC 7638 thumbprint of its jwk (${thumbprint})`);
  return { root, hub: file && typeof file.hub === 'string' ? file.hub : undefined };
}

/** `--peer`: the statement from a file, or fetched from a hub (its base URL: the well-known path is added) or the statement's own URL. */
async function readStatement(source: string): Promise<string> {
  if (!/^https?:\/\//i.test(source)) return (await readFile(source, 'utf8')).trim();
  const url = new URL(source);
  if (url.pathname === '/' || url.pathname === '') url.pathname = FEDERATION_STATEMENT_PATH;
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/jwt' }, signal: AbortSignal.timeout(STATUS_TIMEOUT_MS), redirect: 'error' });
  } catch (error) {
    throw new JwksUnavailableError(`cannot fetch the peer's JWKS statement from ${url.href}`, { cause: error });
  }
  if (!res.ok) throw new JwksUnavailableError(`cannot fetch the peer's JWKS statement from ${url.href}: HTTP ${res.status}`);
  return (await res.text()).trim();
}

/** The peer's keys from its statement checked against the pinned root, or undefined (printed as INVALID) when it is refused. */
async function loadPeerKeys(peer: string, options: VerifyCommandOptions, now: Date, out: Output): Promise<TrustedKeys | undefined> {
  if (options.root === undefined) throw new CliUsageError('--peer needs --root <thumbprint|file>: the peer hub\'s federation root key, pinned out of band');
  const { root, hub } = await readRoot(options.root);
  const expected = options.peerHub ?? hub;
  const statement = await readStatement(peer);
  const result = verifyPeerJwks(statement, { root, now, ...(expected !== undefined ? { hub: expected } : {}), ...(options.allowExpired ? { allowExpired: true } : {}) });
  if (!result.valid) {
    out(`INVALID peer statement: ${result.message} (${result.reason})`);
    return undefined;
  }
  out(`peer       ${result.hub}: keys signed by its root ${result.root}, statement of ${result.issuedAt.toISOString()}${result.expired ? `, EXPIRED ${result.expiresAt.toISOString()} (--allow-expired)` : `, valid until ${result.expiresAt.toISOString()}`}`);
  return result.keys;
}

function invalid(out: Output, message: string, reason: string, keyId: string | undefined): number {
  out(`INVALID: ${message} (${reason})${keyId ? `\n  key        ${keyId}` : ''}`);
  return CLI_EXIT.VERIFY_FAILED;
}
