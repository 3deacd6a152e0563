import { readFile } from 'node:fs/promises';
import {
  CHECKPOINT_TOKEN_TYPE,
  RECEIPT_TOKEN_TYPE,
  SEAL_TOKEN_TYPE,
  importJwks,
  loadJwks,
  verifyCheckpoint,
  verifyReceipt,
  verifySeal,
  type TrustedKeys,
} from '../seal';
import { CLI_EXIT } from '../sdk';
import type { Output } from './keys';

const stdout: Output = (line) => process.stdout.write(`${line}\n`);

/** Options of `datarun verify`. */
export interface VerifyCommandOptions {
  /** The token itself, `@file` to read it from a file, or `-` to read it from stdin. */
  readonly token: string;
  /** A JWKS file path, or an http(s) URL such as `https://hub/.well-known/jwks.json`. */
  readonly jwks: string;
  /** Print the disclosed values of a seal, not only the field names. @default false */
  readonly showValues?: boolean;
  /** @default now */
  readonly now?: Date;
  readonly out?: Output;
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
 * `datarun verify <token> --jwks <file|url>`: verifies a seal (SD-JWT), a receipt or a
 * checkpoint offline against a JWKS, prints a human result, and returns the exit code
 * (0 valid, 6 invalid: CLI_EXIT.VERIFY_FAILED). An unreadable token file or JWKS throws (exit 2).
 */
export async function runVerify(options: VerifyCommandOptions): Promise<number> {
  const out = options.out ?? stdout;
  const token = await readToken(options.token);
  const keys: TrustedKeys = importJwks(await loadJwks(options.jwks));
  const now = options.now ?? new Date();
  const typ = typeOf(token);
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
  return invalid(out, 'not a datarun seal, receipt or checkpoint', 'MALFORMED', undefined);
}

function invalid(out: Output, message: string, reason: string, keyId: string | undefined): number {
  out(`INVALID: ${message} (${reason})${keyId ? `\n  key        ${keyId}` : ''}`);
  return CLI_EXIT.VERIFY_FAILED;
}
