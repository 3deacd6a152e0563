/**
 * Signed checkpoints: every so often the log signs (chain, seq, hash, time), so that rewriting
 * the chain after the fact, truncating it, or dropping old segments is provable. Signing and
 * verifying are injected (the seal module owns the keys), so this module never sees a key.
 */
import { canonicalJson } from './canonical-json';
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
