/**
 * The access record: what one request did, without the data it carried, and how records are
 * chained. Subjects are stored as a keyed hash (to find them) plus a mask (to show them), never
 * as the identifier itself.
 */
import { createHash, createHmac, createSecretKey, hash } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import { createByteLru } from '../sdk';
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
  /** The request id, made by the hub (also in the `x-request-id` reply header and the receipt). */
  requestId: string;
  /** The client's own `x-request-id`, kept to correlate with its logs; never used as the request id. */
  correlationId: string | null;
  /** The client's address as `sourceOf` computes it (IPv4, or an IPv6 /64); null when unknown. */
  source: string | null;
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
  /** An aggregate record: how many requests it stands for (refusals before authentication). */
  count?: number;
  /** An aggregate record: the half-open time window [from, to) of the requests it counts (ISO 8601). */
  window?: AuditWindow;
  /** The state changes the request made (a mutation: a pushed case claimed, reported on), in order; absent when it changed nothing. */
  changes?: readonly AuditChange[];
  /** A request a peer hub made on behalf of its own consumer (跨域通办): that hub, the original consumer there and that hub's request id; absent otherwise. */
  onBehalfOf?: AuditOnBehalfOf;
  /** The federation request id a request between hubs carries, the same in both hubs' records; absent for a request within the hub. */
  federationRequestId?: string;
}

/** On whose behalf a peer hub asked (docs/federation.md): its id, the original consumer there, its request id. */
export interface AuditOnBehalfOf {
  hub: string;
  consumer: string;
  request: string;
}

/**
 * One state change a request made, flat: names (1 to 32 letters and digits, starting with a
 * lower-case letter) to strings, booleans, safe integers or null. The gateway's are pushed
 * cases' steps (`{ entity: "case", caseId, action: "CLAIM", from, to, by, at, late, … }`, docs/audit-log.md).
 */
export type AuditChange = Readonly<Record<string, string | number | boolean | null>>;

/** The most state changes one record holds (more is a programming error). */
export const MAX_CHANGES = 100;
const CHANGE_KEY = /^[a-z][A-Za-z0-9]{0,31}$/;
const MAX_CHANGE_KEYS = 32;

/** The time window of an aggregate record, ISO 8601: from inclusive, to exclusive. */
export interface AuditWindow {
  from: string;
  to: string;
}

/** A subject as stored: a keyed hash to find it by exact identifier and a mask to show it. */
export interface AuditSubject {
  kind: SubjectKind;
  /** base64url HMAC-SHA256 of `kind:id` under the hub's subject-key secret. */
  key: string;
  /** The identifier with its middle hidden, e.g. `371702********1234`. */
  mask: string;
}

/**
 * One stored access record, as it appears (canonical JSON) on one line of the log. Version 2
 * (written now) adds `correlationId`, `source`, `hashed` and, on aggregates, `count` and
 * `window`; version 1 records (older logs) lack them and still read and verify.
 */
export interface AuditRecord {
  /** Record format version: 3 for new records (the fields of 2 plus `prev`, written under signed tree heads, so verification requires every one to be covered by a head), 2 and 1 in logs written before. */
  v: AuditRecordVersion;
  /** Position in the chain, from 1, without gaps. */
  seq: number;
  /**
   * Version 3: the chain hash of the record before (the genesis value for seq 1), stored so that
   * a record changed with its own hash recomputed is named by the record after it.
   */
  prev?: string;
  /** When the log took the record (ISO 8601, UTC, never earlier than the previous record's). */
  time: string;
  /** The hub instance that wrote it. */
  instance: string;
  requestId: string;
  /** v2: the client's `x-request-id`. */
  correlationId?: string | null;
  /** v2: the client's address (IPv4 or IPv6 /64), `*` for an aggregate's overflow bucket. */
  source?: string | null;
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
  /** v2: the fields (sorted) holding `sha256:<hex>` instead of the value given, which could not be stored (see `storable`). */
  hashed?: string[];
  /** v2, aggregates only: how many requests the record stands for. */
  count?: number;
  /** v2, aggregates only: the window [from, to) they arrived in. */
  window?: AuditWindow;
  /** v3, only on a record of a request that changed state (a mutation): each change, in order (text values as `storable` keeps them). */
  changes?: Record<string, string | number | boolean | null>[];
  /** v3, only on a request a peer hub made on behalf of its consumer: `{ hub, consumer, request }` (values as `storable` keeps them). */
  onBehalfOf?: AuditOnBehalfOf;
  /** v3, only on a request between hubs: the federation request id both hubs' records share (as `storable` keeps it). */
  federationRequestId?: string;
  /** sha256(previous hash ‖ canonical(this record without `hash`)), hex. */
  hash: string;
}

/** The subject kinds, for validation. */
export const SUBJECT_KINDS: readonly SubjectKind[] = ['PERSON', 'ENTERPRISE', 'PROPERTY'];
/** The outcomes, for validation. */
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['GRANTED', 'DENIED', 'FAILED', 'PARTIAL'];

/** The record format versions this code reads; new records are written as the last. */
export const AUDIT_RECORD_VERSIONS = [1, 2, 3] as const;
/** A record format version. */
export type AuditRecordVersion = (typeof AUDIT_RECORD_VERSIONS)[number];
/** The version of records written now. */
export const AUDIT_RECORD_VERSION: AuditRecordVersion = 3;

/** The chain format, named in the genesis value, the checkpoints and export manifests (unchanged by record versions: old chains keep their genesis). */
export const AUDIT_FORMAT = 'datarun-audit/1';

/** The hash the first record chains to: it names the format and the chain, so two chains never share a start. */
export function genesisHash(chainId: string): string {
  return createHash('sha256').update(`${AUDIT_FORMAT} genesis\n${chainId}`, 'utf8').digest('hex');
}

/** hash_n = sha256(hash_{n-1} as bytes ‖ canonical body bytes), hex. */
export function chainHash(previousHash: string, canonicalBody: string): string {
  return hash('sha256', Buffer.concat([Buffer.from(previousHash, 'hex'), Buffer.from(canonicalBody, 'utf8')]), 'hex');
}

/** The canonical form of a record without its `hash`: the bytes its hash covers. */
export function canonicalBody(record: Omit<AuditRecord, 'hash'> & { hash?: unknown }): string {
  const { hash: _omit, ...body } = record;
  return canonicalJson(body);
}

const PLAIN_MEMBER = /^[A-Za-z0-9_]+$/;

/**
 * The canonical texts of a record before and after its `hash` is known, its members serialized
 * once: `body` is `canonicalJson(unhashed)` (what the hash covers) and `withHash(hash)` is
 * `canonicalJson({ ...unhashed, hash })` (the line written), the member inserted where JCS's
 * order puts it. Members with other names than plain ASCII words are serialized again instead.
 */
export function canonicalRecordTexts(unhashed: Readonly<Record<string, unknown>>): { body: string; withHash(hash: string): string } {
  const names = Object.keys(unhashed).sort();
  if ('hash' in unhashed || !names.every((name) => PLAIN_MEMBER.test(name))) {
    return { body: canonicalJson(unhashed), withHash: (hash) => canonicalJson({ ...unhashed, hash }) };
  }
  const members: string[] = [];
  let hashAt = -1;
  for (const name of names) {
    const value = unhashed[name];
    if (value === undefined) continue;
    if (hashAt < 0 && name > 'hash') hashAt = members.length;
    members.push(`"${name}":${canonicalJson(value)}`);
  }
  if (hashAt < 0) hashAt = members.length;
  return {
    body: `{${members.join(',')}}`,
    withHash: (hash) => `{${[...members.slice(0, hashAt), `"hash":${canonicalJson(hash)}`, ...members.slice(hashAt)].join(',')}}`,
  };
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

/** Default budget of a keyer's memo of keys already computed: about 16 000 identifiers. */
export const DEFAULT_SUBJECT_KEY_MEMO_BYTES = 2 * 1024 * 1024;

/**
 * Builds the keyer for one hub secret (at least 32 bytes). The key is a pure function of the
 * secret and the normalized identifier, so the keys of identifiers seen lately are remembered
 * (bounded by `memoBytes`, least recently used dropped first; 0 turns it off): a request about
 * the same unit again (a cache-warm reply) computes no HMAC for its subjects.
 */
export function createSubjectKeyer(secret: Uint8Array | string, options: { readonly memoBytes?: number } = {}): SubjectKeyer {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (bytes.length < MIN_SUBJECT_KEY_SECRET_BYTES) throw new AuditOptionsError('subjectKeySecret', `at least ${MIN_SUBJECT_KEY_SECRET_BYTES} bytes`);
  const memoBytes = options.memoBytes ?? DEFAULT_SUBJECT_KEY_MEMO_BYTES;
  // Key: `kind:normalized id` (the HMAC's input); value: its key (43 characters). Both counted as UTF-16, with the entry's overhead.
  const memo = memoBytes > 0 ? createByteLru<string, string>({ maxBytes: memoBytes, sizeOf: (input, key) => 2 * (input.length + key.length) + 64 }) : undefined;
  // The secret imported once as a KeyObject, not again from raw bytes for every HMAC.
  const secretKey = createSecretKey(bytes);
  const hmac = (input: string): string => createHmac('sha256', secretKey).update(input, 'utf8').digest('base64url');
  const key = (subject: SubjectRef): string => {
    const input = `${subject.kind}:${normalizeId(subject.id)}`;
    if (!memo) return hmac(input);
    let known = memo.get(input);
    if (known === undefined) memo.set(input, (known = hmac(input)));
    return known;
  };
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

/** Longest text field stored as given, in UTF-16 code units. */
export const MAX_TEXT = 256;
/** Longest total of one department's field coordinates stored as given, in UTF-16 code units. */
export const MAX_COORDINATES_TOTAL = 8192;
const MAX_SUBJECTS = 10_000;
const MAX_SUBJECT_ID = 64;
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
const DEPARTMENT = /^[a-z0-9][a-z0-9-]{0,63}$/;
// C0 and C1 controls, DEL, the line and paragraph separators and the bidirectional overrides and
// isolates: characters that would break a line of the log, or reorder what an auditor reads.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
// A high surrogate not followed by a low one, or a low one not preceded by a high one (what
// String.prototype.isWellFormed tests; the project's lib target predates its typings).
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** True when a string is well-formed UTF-16: no lone surrogate. */
function isWellFormed(value: string): boolean {
  LONE_SURROGATE.lastIndex = 0;
  return !LONE_SURROGATE.test(value);
}

/** The stored form of a value that cannot be stored as given: `sha256:` and the hex SHA-256 of its UTF-8 bytes (a lone surrogate encoded as U+FFFD). */
export function hashedValue(value: string): string {
  return `sha256:${createHash('sha256').update(Buffer.from(value.replace(LONE_SURROGATE, '\ufffd'), 'utf8')).digest('hex')}`;
}

/**
 * Whether a client-supplied text can be stored as given: a string of 1 to `max` UTF-16 code
 * units, well-formed UTF-16 (no lone surrogate), without control characters. When not, the
 * value to store is `hashedValue(value)` (a non-string is hashed as `String(value)`), and the
 * field is named in the record's `hashed`.
 */
export function storable(value: unknown, max: number = MAX_TEXT): { value: string; hashed: boolean } {
  const text = typeof value === 'string' ? value : String(value);
  if (typeof value === 'string' && text.length > 0 && text.length <= max && isWellFormed(text) && !CONTROL.test(text)) return { value: text, hashed: false };
  return { value: hashedValue(text), hashed: true };
}

function text(input: Record<string, unknown>, field: string, nullable: boolean): string | null {
  const value = input[field];
  if (value === null && nullable) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TEXT) {
    throw new AuditRecordError(field, `must be a string of 1 to ${MAX_TEXT} characters${nullable ? ' or null' : ''}`);
  }
  return value;
}

/** The stored body of a record: without seq, time, instance, hash and v. */
export type StoredBody = Omit<AuditRecord, 'seq' | 'time' | 'instance' | 'hash' | 'v'>;

/**
 * Turns a record handed to `append` into its stored form (without seq, time, instance, hash and
 * v). Client-supplied values never refuse a record: whatever `storable` rejects is stored as its
 * hash and named in `hashed`; an empty `operationName` (an anonymous operation) is stored as
 * null; a missing `correlationId` or `source` as null. Only what the hub itself makes (request
 * id, hashes, receipt id, outcome, the shape of the lists, count and window) still throws
 * AuditRecordError: that is a programming error.
 */
export function toStoredBody(input: AuditRecordInput, keyer: SubjectKeyer): StoredBody {
  if (input === null || typeof input !== 'object') throw new AuditRecordError('(record)', 'must be an object');
  const raw = input as unknown as Record<string, unknown>;
  const hashed = new Set<string>();
  const clientText = (field: string): string | null => {
    const value = raw[field];
    if (value === null || value === undefined) return null;
    if (field === 'operationName' && value === '') return null;
    const s = storable(value);
    if (s.hashed) hashed.add(field);
    return s.value;
  };

  if (!Array.isArray(input.subjects)) throw new AuditRecordError('subjects', `must be a list of identifiers`);
  const subjects: AuditSubject[] = [];
  const seen = new Set<string>();
  for (const s of input.subjects) {
    if (subjects.length >= MAX_SUBJECTS) {
      // More subjects than a record holds: the first ones are kept, and the list is flagged.
      hashed.add('subjects');
      break;
    }
    if (!s || !SUBJECT_KINDS.includes(s.kind)) throw new AuditRecordError('subjects', `must hold {kind, id} with kind one of ${SUBJECT_KINDS.join(', ')}`);
    let stored: AuditSubject;
    const id = typeof s.id === 'string' ? s.id : String(s.id);
    if (storable(id.trim(), MAX_SUBJECT_ID).hashed) {
      // The keyed hash still finds it; the mask (which would show the odd value) is replaced. A
      // plain SHA-256 of an identifier could be reversed by enumeration, so none is stored.
      hashed.add('subjects');
      stored = { kind: s.kind, key: keyer.key({ kind: s.kind, id }), mask: UNSTORABLE_MASK };
    } else {
      stored = keyer.subject({ kind: s.kind, id });
    }
    if (!seen.has(stored.key)) {
      seen.add(stored.key);
      subjects.push(stored);
    }
  }

  if (!input.fields || typeof input.fields !== 'object' || Array.isArray(input.fields)) throw new AuditRecordError('fields', 'must map department ids to lists of field coordinates');
  const fields: Record<string, string[]> = {};
  for (const [department, coordinates] of Object.entries(input.fields)) {
    if (!Array.isArray(coordinates)) throw new AuditRecordError('fields', 'must map each department to a list of field coordinates');
    let key = department;
    if (!DEPARTMENT.test(department)) {
      key = hashedValue(department);
      hashed.add('fields');
    }
    const list = [...new Set(coordinates.map((c) => {
      const s = storable(c);
      if (s.hashed) hashed.add('fields');
      return s.value;
    }))].sort();
    if (list.reduce((n, c) => n + c.length, 0) > MAX_COORDINATES_TOTAL) {
      // Too long a list: one hash of the whole list (its canonical JSON) stands for it.
      fields[key] = [hashedValue(canonicalJson(list))];
      hashed.add('fields');
    } else {
      fields[key] = [...new Set([...(fields[key] ?? []), ...list])].sort();
    }
  }

  if (!AUDIT_OUTCOMES.includes(input.outcome)) throw new AuditRecordError('outcome', `must be one of ${AUDIT_OUTCOMES.join(', ')}`);
  if (!Array.isArray(input.errorCodes)) throw new AuditRecordError('errorCodes', 'must be a list of error codes');
  const errorCodes = [
    ...new Set(
      input.errorCodes.map((c) => {
        if (typeof c === 'string' && ERROR_CODE.test(c)) return c;
        hashed.add('errorCodes');
        return hashedValue(typeof c === 'string' ? c : String(c));
      }),
    ),
  ];

  const aggregate: Pick<StoredBody, 'count' | 'window'> = {};
  if (input.count !== undefined || input.window !== undefined) {
    if (!Number.isSafeInteger(input.count) || input.count! < 1) throw new AuditRecordError('count', 'must be a positive integer on an aggregate record');
    const w = input.window;
    if (!w || typeof w.from !== 'string' || typeof w.to !== 'string' || Number.isNaN(Date.parse(w.from)) || Number.isNaN(Date.parse(w.to)) || Date.parse(w.from) > Date.parse(w.to)) {
      throw new AuditRecordError('window', 'must be {from, to}: ISO 8601 times, from not after to, on an aggregate record');
    }
    aggregate.count = input.count;
    aggregate.window = { from: new Date(w.from).toISOString(), to: new Date(w.to).toISOString() };
  }

  const changes: Pick<StoredBody, 'changes'> = {};
  if (input.changes !== undefined) {
    if (!Array.isArray(input.changes) || input.changes.length === 0 || input.changes.length > MAX_CHANGES) throw new AuditRecordError('changes', `must be a list of 1 to ${MAX_CHANGES} changes when given`);
    changes.changes = input.changes.map((change) => {
      if (!change || typeof change !== 'object' || Array.isArray(change)) throw new AuditRecordError('changes', 'must hold flat objects');
      const entries = Object.entries(change);
      if (entries.length === 0 || entries.length > MAX_CHANGE_KEYS) throw new AuditRecordError('changes', `must hold objects of 1 to ${MAX_CHANGE_KEYS} names`);
      const out: Record<string, string | number | boolean | null> = {};
      for (const [key, value] of entries) {
        if (!CHANGE_KEY.test(key)) throw new AuditRecordError('changes', `has a name that is not 1 to 32 letters and digits: ${JSON.stringify(key.slice(0, 40))}`);
        if (value === null || typeof value === 'boolean' || (typeof value === 'number' && Number.isSafeInteger(value))) out[key] = value;
        else if (typeof value === 'string') {
          const s = storable(value);
          if (s.hashed) hashed.add('changes');
          out[key] = s.value;
        } else throw new AuditRecordError('changes', `${key} must be a string, a boolean, a safe integer or null`);
      }
      return out;
    });
  }

  // A request between hubs: present only then, so every record before (and every other record) hashes as it did.
  const federation: Pick<StoredBody, 'onBehalfOf' | 'federationRequestId'> = {};
  if (input.onBehalfOf !== undefined) {
    const obo = input.onBehalfOf as unknown as Record<string, unknown> | null;
    if (!obo || typeof obo !== 'object' || Array.isArray(obo)) throw new AuditRecordError('onBehalfOf', 'must be {hub, consumer, request} when given');
    const member = (name: 'hub' | 'consumer' | 'request'): string => {
      if (obo[name] === undefined || obo[name] === null) throw new AuditRecordError('onBehalfOf', `must be {hub, consumer, request} when given: ${name} is missing`);
      const s = storable(obo[name]);
      if (s.hashed) hashed.add('onBehalfOf');
      return s.value;
    };
    federation.onBehalfOf = { hub: member('hub'), consumer: member('consumer'), request: member('request') };
  }
  if (input.federationRequestId !== undefined) {
    const s = storable(input.federationRequestId);
    if (s.hashed) hashed.add('federationRequestId');
    federation.federationRequestId = s.value;
  }

  const body: StoredBody = {
    requestId: text(raw, 'requestId', false)!,
    correlationId: clientText('correlationId'),
    source: clientText('source'),
    consumer: clientText('consumer'),
    operator: clientText('operator'),
    purpose: clientText('purpose'),
    caseNumber: clientText('caseNumber'),
    operationName: clientText('operationName'),
    operationHash: text(raw, 'operationHash', true),
    subjects,
    fields,
    outcome: input.outcome,
    errorCodes,
    replyHash: text(raw, 'replyHash', true),
    receiptId: text(raw, 'receiptId', true),
    ...aggregate,
    ...changes,
    ...federation,
  };
  body.hashed = [...hashed].sort();
  return body;
}

/** The mask of a subject whose identifier could not be stored as given (see `storable`). */
export const UNSTORABLE_MASK = '(hashed)';

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
