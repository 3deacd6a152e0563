/**
 * Signed checkpoints: every so often the log signs (chain, seq, hash, time), so that rewriting
 * the chain after the fact, truncating it, or dropping old segments is provable. Signing and
 * verifying are injected (the seal module owns the keys), so this module never sees a key.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import { rootOfFrontier } from './merkle';
import { AuditOptionsError } from './errors';
import { AUDIT_FORMAT } from './record';

/** Signs a payload as a compact JWS (the hub's seal module, ES256). */
export type AuditSigner = (payload: Uint8Array | string) => Promise<string> | string;

/** What a verifier says about a compact JWS: valid or not, with the signed payload. */
export interface AuditSignatureCheck {
  valid: boolean;
  /** The signed payload: bytes, text or already-parsed JSON. */
  payload?: unknown;
  /** Why it is not valid (for the report; never key material). */
  reason?: string;
}

/** Verifies a compact JWS against the hub's published keys. */
export type AuditSignatureVerifier = (jws: string) => AuditSignatureCheck | Promise<AuditSignatureCheck>;

/** The `typ` of a checkpoint payload. */
export const CHECKPOINT_TYPE = `${AUDIT_FORMAT} checkpoint`;

/** What a checkpoint attests: record `seq` of chain `chain` has hash `hash`. */
export interface AuditCheckpoint {
  typ: typeof CHECKPOINT_TYPE;
  chain: string;
  instance: string;
  seq: number;
  hash: string;
  time: string;
}

/** One line of `checkpoints.jsonl`: the checkpoint in clear (for people) and its JWS (the only part trusted). */
export interface CheckpointLine {
  checkpoint: AuditCheckpoint;
  jws: string;
}

/** Signs a checkpoint and returns its line (canonical JSON, no newline). */
export async function signCheckpoint(checkpoint: AuditCheckpoint, sign: AuditSigner): Promise<string> {
  const jws = await sign(canonicalJson(checkpoint));
  if (typeof jws !== 'string' || jws.split('.').length !== 3) throw new AuditOptionsError('sign', `a signer that returns a compact JWS, not a ${typeof jws}`);
  return canonicalJson({ checkpoint, jws } satisfies CheckpointLine);
}

/** Turns a verifier's payload (bytes, text or JSON) into a value; `undefined` when it is not JSON. */
export function payloadValue(payload: unknown, jws: string): unknown {
  try {
    if (payload === undefined) return JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8'));
    if (typeof payload === 'string') return JSON.parse(payload);
    if (payload instanceof Uint8Array) return JSON.parse(Buffer.from(payload).toString('utf8'));
    return payload;
  } catch {
    return undefined;
  }
}

/** The `typ` of a signed tree head. */
export const TREE_HEAD_TYPE = `${AUDIT_FORMAT} tree-head`;
/** The `typ` of a signed retention record: a tree head that also says which oldest records were removed. */
export const RETENTION_TYPE = `${AUDIT_FORMAT} retention`;

/**
 * A signed tree head (in the manner of RFC 9162): the instance's tree of `size` records has root
 * `root`; the record at `size` has chain hash `hash`; `prev` is the hash of the previous head's
 * JWS in this chain (null for the first), so removing any head line breaks the heads' own chain.
 */
export interface AuditTreeHead {
  typ: typeof TREE_HEAD_TYPE | typeof RETENTION_TYPE;
  chain: string;
  instance: string;
  size: number;
  /** base64url SHA-256 Merkle root. */
  root: string;
  /** The chain hash of record `size` (the genesis value for size 0). */
  hash: string;
  time: string;
  prev: string | null;
  /** Why the head was signed: `start`, `tick`, `segment`, `close`, `retention` or `break`. */
  reason: string;
  /** On the first head of a chain opened after a log was lost or replaced: the newest head known of the chain before, and why. */
  break?: { chain: string; size: number; root: string; jwsHash: string; reason: string };
  /** Retention records only: records 1..prunedThrough were removed; their tree's frontier and the last one's chain hash. */
  prunedThrough?: number;
  prunedHash?: string;
  frontier?: string[];
}

/** A stored head line: the head in clear (for people and indexes) and its JWS (the only part trusted). */
export interface TreeHeadLine {
  checkpoint: AuditTreeHead;
  jws: string;
}

/** The hash a following head names in `prev`: base64url SHA-256 of the JWS text. */
export function headHash(jws: string): string {
  return createHash('sha256').update(jws, 'utf8').digest('base64url');
}

/** Signs a tree head and returns its line (canonical JSON, no newline). */
export async function signTreeHead(head: AuditTreeHead, sign: AuditSigner): Promise<{ line: string; jws: string }> {
  const jws = await sign(canonicalJson(head));
  if (typeof jws !== 'string' || jws.split('.').length !== 3) throw new AuditOptionsError('sign', `a signer that returns a compact JWS, not a ${typeof jws}`);
  return { line: canonicalJson({ checkpoint: head, jws } satisfies TreeHeadLine), jws };
}

/** Whether a parsed head line is a tree head (or retention record), as opposed to a legacy checkpoint. */
export function isTreeHead(value: unknown): value is AuditTreeHead {
  const h = value as Partial<AuditTreeHead> | null;
  return (
    !!h &&
    (h.typ === TREE_HEAD_TYPE || h.typ === RETENTION_TYPE) &&
    typeof h.chain === 'string' &&
    typeof h.instance === 'string' &&
    Number.isSafeInteger(h.size) &&
    (h.size as number) >= 0 &&
    typeof h.root === 'string' &&
    typeof h.hash === 'string' &&
    typeof h.time === 'string' &&
    (h.prev === null || typeof h.prev === 'string')
  );
}

/** A stored head line parsed without checking its signature (its clear copy), or undefined when it is not one. */
export function parseTreeHeadLine(raw: string | undefined): { head: AuditTreeHead; jws: string } | undefined {
  try {
    const line = JSON.parse(raw ?? '') as { checkpoint?: unknown; jws?: unknown };
    return isTreeHead(line.checkpoint) && typeof line.jws === 'string' ? { head: line.checkpoint, jws: line.jws } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks a head line's JWS with `verify` and returns the head it signs, or why not: the signed
 * payload must be exactly the head in clear (so the clear copy cannot mislead a reader).
 */
export async function checkTreeHeadLine(raw: string, verify: AuditSignatureVerifier): Promise<{ head: AuditTreeHead; jws: string } | { problem: 'MALFORMED' | 'BAD_SIGNATURE' | 'MISMATCH'; message: string }> {
  let line: TreeHeadLine;
  try {
    line = JSON.parse(raw) as TreeHeadLine;
  } catch {
    return { problem: 'MALFORMED', message: 'is not JSON' };
  }
  if (!line || typeof line.jws !== 'string' || !isTreeHead(line.checkpoint)) return { problem: 'MALFORMED', message: 'is not a signed tree head' };
  let result: AuditSignatureCheck;
  try {
    result = await verify(line.jws);
  } catch {
    result = { valid: false };
  }
  if (!result?.valid) return { problem: 'BAD_SIGNATURE', message: `has a signature that does not verify${result?.reason ? ` (${result.reason})` : ''}` };
  const signed = payloadValue(result.payload, line.jws);
  let same = false;
  try {
    same = isTreeHead(signed) && canonicalJson(signed) === canonicalJson(line.checkpoint);
  } catch {
    same = false;
  }
  if (!same) return { problem: 'MISMATCH', message: 'differs from what was signed' };
  return { head: signed as AuditTreeHead, jws: line.jws };
}

/**
 * A retention record: records 1..`through` of the chain are about to be removed; it keeps the
 * Merkle frontier of those records and the chain hash of the last, from which verification and
 * proofs continue. `size` and `root` are the tree of exactly those records.
 */
export function retentionRecord(r: { chain: string; instance: string; through: number; hash: string; frontier: readonly Uint8Array[]; time: Date }): AuditTreeHead {
  const frontier = r.frontier.map((h) => Buffer.from(h).toString('base64url'));
  return {
    typ: RETENTION_TYPE,
    chain: r.chain,
    instance: r.instance,
    size: r.through,
    root: rootOfFrontier(r.frontier).toString('base64url'),
    hash: r.hash,
    time: r.time.toISOString(),
    prev: null,
    reason: 'retention',
    prunedThrough: r.through,
    prunedHash: r.hash,
    frontier,
  };
}
