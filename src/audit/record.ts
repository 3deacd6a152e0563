/**
 * The access record: what one request did, without the data it carried, and how records are
 * chained. Subjects are stored as a keyed hash (to find them) plus a mask (to show them), never
 * as the identifier itself.
 */
import { createHash, createHmac } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import { AuditOptionsError, AuditRecordError } from './errors';

/** The kinds of entity a request can be about. */
export type SubjectKind = 'PERSON' | 'ENTERPRISE' | 'PROPERTY';

/** A typed identifier as the gateway knows it: an identity number, a credit code or a unit number. */
export interface SubjectRef {
  kind: SubjectKind;
  id: string;
}

/** How a request ended: served, refused by policy, failed, or served without some department's data. */
export type AuditOutcome = 'GRANTED' | 'DENIED' | 'FAILED' | 'PARTIAL';

/** What the gateway knows about one request when it is about to reply; `null` where it does not know (an unauthenticated request has no consumer). */
export interface AuditRecordInput {
  /** The request id (also in the `x-request-id` header and the receipt). */
  requestId: string;
  /** The registered consumer (a department system) that signed the request. */
  consumer: string | null;
  /** 经办人: the official at the consumer on whose behalf the request was made. */
  operator: string | null;
  /** 事由: the purpose code the request was made for. */
  purpose: string | null;
  /** 办件编号: the case number the request belongs to. */
  caseNumber: string | null;
  /** The GraphQL operation name, if any. */
  operationName: string | null;
  /** SHA-256 of the operation document, so the exact query can be matched later without storing it. */
  operationHash: string | null;
  /** Every entity the request touched. */
  subjects: readonly SubjectRef[];
  /** The field coordinates read from each department: `{ tax: ['Person.taxRecords', …] }`. */
  fields: Readonly<Record<string, readonly string[]>>;
  outcome: AuditOutcome;
  /** The error codes of the reply (`POLICY_DENIED`, `CONNECTOR_TIMEOUT`, …). */
  errorCodes: readonly string[];
  /** SHA-256 of the reply body, also in the receipt. */
  replyHash: string | null;
  /** The id of the signed receipt of the reply. */
  receiptId: string | null;
}

/** A subject as stored: a keyed hash to find it by exact identifier and a mask to show it. */
export interface AuditSubject {
  kind: SubjectKind;
  /** base64url HMAC-SHA256 of `kind:id` under the hub's subject-key secret. */
  key: string;
  /** The identifier with its middle hidden, e.g. `371702********1234`. */
  mask: string;
}

/** One stored access record, as it appears (canonical JSON) on one line of the log. */
export interface AuditRecord {
  /** Record format version. */
  v: 1;
  /** Position in the chain, from 1, without gaps. */
  seq: number;
  /** When the log took the record (ISO 8601, UTC, never earlier than the previous record's). */
  time: string;
  /** The hub instance that wrote it. */
  instance: string;
  requestId: string;
  consumer: string | null;
  operator: string | null;
  purpose: string | null;
  caseNumber: string | null;
  operationName: string | null;
  operationHash: string | null;
  subjects: AuditSubject[];
  fields: Record<string, string[]>;
  outcome: AuditOutcome;
  errorCodes: string[];
  replyHash: string | null;
  receiptId: string | null;
  /** sha256(previous hash ‖ canonical(this record without `hash`)), hex. */
  hash: string;
}

/** The subject kinds, for validation. */
export const SUBJECT_KINDS: readonly SubjectKind[] = ['PERSON', 'ENTERPRISE', 'PROPERTY'];
/** The outcomes, for validation. */
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['GRANTED', 'DENIED', 'FAILED', 'PARTIAL'];

/** The record format, named in the genesis value and the checkpoints. */
export const AUDIT_FORMAT = 'datarun-audit/1';

/** The hash the first record chains to: it names the format and the chain, so two chains never share a start. */
export function genesisHash(chainId: string): string {
  return createHash('sha256').update(`${AUDIT_FORMAT} genesis\n${chainId}`, 'utf8').digest('hex');
}

/** hash_n = sha256(hash_{n-1} as bytes ‖ canonical body bytes), hex. */
export function chainHash(previousHash: string, canonicalBody: string): string {
  return createHash('sha256').update(Buffer.from(previousHash, 'hex')).update(canonicalBody, 'utf8').digest('hex');
}

/** The canonical form of a record without its `hash`: the bytes its hash covers. */
export function canonicalBody(record: Omit<AuditRecord, 'hash'> & { hash?: unknown }): string {
  const { hash: _omit, ...body } = record;
  return canonicalJson(body);
}

/** Turns typed identifiers into the keyed hash that indexes them and the mask that shows them. */
export interface SubjectKeyer {
  /** The index key of an identifier: the same identifier always gives the same key under one secret. */
  key(subject: SubjectRef): string;
  /** The stored form of an identifier. */
  subject(subject: SubjectRef): AuditSubject;
}

/** Shortest subject-key secret accepted, in bytes: an HMAC key shorter than its output weakens it. */
export const MIN_SUBJECT_KEY_SECRET_BYTES = 32;

/** Builds the keyer for one hub secret (at least 32 bytes). */
export function createSubjectKeyer(secret: Uint8Array | string): SubjectKeyer {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (bytes.length < MIN_SUBJECT_KEY_SECRET_BYTES) throw new AuditOptionsError('subjectKeySecret', `at least ${MIN_SUBJECT_KEY_SECRET_BYTES} bytes`);
  const key = (subject: SubjectRef): string =>
    createHmac('sha256', bytes).update(`${subject.kind}:${normalizeId(subject.id)}`, 'utf8').digest('base64url');
  return { key, subject: (s) => ({ kind: s.kind, key: key(s), mask: maskIdentifier(normalizeId(s.id)) }) };
}

// Identity numbers end in an upper-case X; unit numbers and credit codes are upper case too.
function normalizeId(id: string): string {
  return id.trim().toUpperCase();
}

/** Hides the middle of an identifier: the first 6 and last 4 characters of an 18-character number stay (`371702********1234`). */
export function maskIdentifier(id: string): string {
  const head = Math.min(6, Math.floor(id.length / 3));
  const tail = Math.min(4, Math.floor(id.length / 4));
  return id.slice(0, head) + '*'.repeat(id.length - head - tail) + id.slice(id.length - tail);
}

const MAX_TEXT = 256;
const MAX_SUBJECTS = 10_000;
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
const DEPARTMENT = /^[a-z0-9][a-z0-9-]{0,63}$/;

function text(input: Record<string, unknown>, field: string, nullable: boolean): string | null {
  const value = input[field];
  if (value === null && nullable) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TEXT) {
    throw new AuditRecordError(field, `must be a string of 1 to ${MAX_TEXT} characters${nullable ? ' or null' : ''}`);
  }
  return value;
}

/** Checks a record handed to `append` and turns it into the stored form (without seq, time, instance and hash). */
export function toStoredBody(input: AuditRecordInput, keyer: SubjectKeyer): Omit<AuditRecord, 'seq' | 'time' | 'instance' | 'hash' | 'v'> {
  if (input === null || typeof input !== 'object') throw new AuditRecordError('(record)', 'must be an object');
  const raw = input as unknown as Record<string, unknown>;
  if (!Array.isArray(input.subjects) || input.subjects.length > MAX_SUBJECTS) throw new AuditRecordError('subjects', `must be a list of at most ${MAX_SUBJECTS} identifiers`);
  const subjects: AuditSubject[] = [];
  const seen = new Set<string>();
  for (const s of input.subjects) {
    if (!s || !SUBJECT_KINDS.includes(s.kind)) throw new AuditRecordError('subjects', `must hold {kind, id} with kind one of ${SUBJECT_KINDS.join(', ')}`);
    if (typeof s.id !== 'string' || s.id.trim().length === 0 || s.id.length > 64) throw new AuditRecordError('subjects', 'must hold identifiers of 1 to 64 characters');
    const stored = keyer.subject(s);
    if (!seen.has(stored.key)) {
      seen.add(stored.key);
      subjects.push(stored);
    }
  }
  if (!input.fields || typeof input.fields !== 'object' || Array.isArray(input.fields)) throw new AuditRecordError('fields', 'must map department ids to lists of field coordinates');
  const fields: Record<string, string[]> = {};
  for (const [department, coordinates] of Object.entries(input.fields)) {
    if (!DEPARTMENT.test(department)) throw new AuditRecordError('fields', 'must be keyed by kebab-case department ids');
    if (!Array.isArray(coordinates) || coordinates.some((c) => typeof c !== 'string' || c.length === 0 || c.length > MAX_TEXT)) {
      throw new AuditRecordError('fields', 'must map each department to a list of field coordinates');
    }
    fields[department] = [...new Set(coordinates)].sort();
  }
  if (!AUDIT_OUTCOMES.includes(input.outcome)) throw new AuditRecordError('outcome', `must be one of ${AUDIT_OUTCOMES.join(', ')}`);
  if (!Array.isArray(input.errorCodes) || input.errorCodes.some((c) => typeof c !== 'string' || !ERROR_CODE.test(c))) {
    throw new AuditRecordError('errorCodes', 'must be a list of SCREAMING_SNAKE error codes');
  }
  return {
    requestId: text(raw, 'requestId', false)!,
    consumer: text(raw, 'consumer', true),
    operator: text(raw, 'operator', true),
    purpose: text(raw, 'purpose', true),
    caseNumber: text(raw, 'caseNumber', true),
    operationName: text(raw, 'operationName', true),
    operationHash: text(raw, 'operationHash', true),
    subjects,
    fields,
    outcome: input.outcome,
    errorCodes: [...input.errorCodes],
    replyHash: text(raw, 'replyHash', true),
    receiptId: text(raw, 'receiptId', true),
  };
}

/** True when a parsed line has the shape of a stored record (used when reading back, never trusted for the chain). */
export function isAuditRecord(value: unknown): value is AuditRecord {
  const r = value as AuditRecord | null;
  return (
    !!r &&
    typeof r === 'object' &&
    Number.isSafeInteger(r.seq) &&
    r.seq > 0 &&
    typeof r.hash === 'string' &&
    typeof r.time === 'string' &&
    Array.isArray(r.subjects) &&
    !!r.fields &&
    typeof r.fields === 'object'
  );
}
