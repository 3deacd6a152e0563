import { randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  AuditUnavailableError,
  nodeAuditFs,
  noSyncAuditFs,
  openAuditLog,
  openAuditLogReader,
  type AuditFs,
  type AuditLog,
  type AuditLogEvent,
  type AuditLogHealth,
  type AuditSink,
  type AuditOutcome,
  type AuditRecordInput,
  type AuditRecord,
  type SharedAccessIndex,
  type AuditSignatureVerifier,
  type AuditSigner,
  type SubjectKind,
  type SubjectRef,
  type AuditChange,
  type SignedTreeHead,
  type ChainProver,
  quotedArgument,
} from '../audit';
import type { Decision, PolicyEngine } from '../policy';
import { createCheckpointSigner, hashText, importJwks, verifyCheckpoint, type Jwks, type KeyStore } from '../seal';
import { BadUserInputError, HubError, HubErrorCode, type Resolvers } from '../sdk';
import { ConfigError } from './config';
import { readOrCreateFile } from './write-once';
import type { Caller, RequestContext } from './request-context';

/** Departments that are the hub itself: never listed as departments read in an access record. */
const HUB_PSEUDO_DEPARTMENTS = new Set(['shared', 'catalog', 'seal', 'audit']);
const SUBJECT_SECRET_FILE = 'audit-subject-key';
const SEAL_SUBJECT_SECRET_FILE = 'seal-subject-key';

/**
 * The hub secret that keys subject identifiers in the log's index: generated once into the
 * keys directory's private part (mode 0600) unless given, and the same for the life of the log.
 */
export function auditSubjectSecret(keysDir: string, given?: string): string {
  return hubSecret(keysDir, SUBJECT_SECRET_FILE, 'DATARUN_AUDIT_SUBJECT_SECRET', given);
}

/**
 * The hub secret that keys the pseudonymous `sub` of record seals (never the audit log's: the
 * two pseudonyms must not be linkable): generated once into the keys directory's private part
 * (mode 0600) unless given. Every instance sharing seals needs the same one, like the keys.
 */
export function sealSubjectSecret(keysDir: string, given?: string): string {
  return hubSecret(keysDir, SEAL_SUBJECT_SECRET_FILE, 'DATARUN_SEAL_SUBJECT_SECRET', given);
}

function hubSecret(keysDir: string, fileName: string, variable: string, given?: string): string {
  if (given) {
    if (Buffer.byteLength(given) < 32) throw new ConfigError(`${variable} must be at least 32 bytes`);
    return given;
  }
  // Another instance sharing the keys directory that generates it at the same moment: one of the two is used by both.
  return readOrCreateFile(path.join(keysDir, 'private', fileName), () => `${randomBytes(32).toString('base64url')}\n`).trim();
}

/** Signs audit checkpoints and export manifests with the hub's checkpoint key. */
export function auditSigner(keyStore: KeyStore): AuditSigner {
  const signer = createCheckpointSigner({ keyStore });
  return (payload) => signer.signCheckpoint(JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8')) as Record<string, unknown>);
}

/** Verifies checkpoint signatures against a key store or a published JWKS (offline), returning the signed checkpoint. */
export function auditVerifier(keys: { keyStore: KeyStore } | { jwks: Jwks }): AuditSignatureVerifier {
  const options = 'keyStore' in keys ? { keyStore: keys.keyStore } : { jwks: importJwks(keys.jwks) };
  return (jws) => {
    // Checkpoints stay valid for as long as the log is kept: verify at their own signing time.
    const result = verifyCheckpoint(jws, { ...options, now: signedAt(jws) });
    if (!result.valid) return { valid: false, reason: result.reason };
    // The signer adds iss and iat; the checkpoint is the rest.
    const { iss: _iss, iat: _iat, ...checkpoint } = result.claims as Record<string, unknown>;
    return { valid: true, payload: checkpoint };
  };
}

function signedAt(jws: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iat?: unknown };
    return typeof payload.iat === 'number' ? payload.iat * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** `P1Y`, `P6M`, `P180D` → days, for the citizen view's withholding of confidential purposes. */
function durationDays(iso: string): number {
  const m = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?$/.exec(iso);
  if (!m) return 365;
  return Number(m[1] ?? 0) * 365 + Number(m[2] ?? 0) * 30 + Number(m[3] ?? 0);
}

/**
 * Where the newest signed tree head of an instance is kept outside its log: in the keys
 * directory, so that a log deleted whole, replaced or rolled back is refused at start and caught
 * by `datarun audit verify`.
 */
export function auditHeadFile(keysDir: string, instanceId: string): string {
  return path.join(keysDir, 'audit-heads', `${encodeURIComponent(instanceId)}.json`);
}

/** The confidential purposes of the policy with their disclosure rules, for the citizen view. */
export function hubConfidentialPurposes(policy: PolicyEngine, codes: readonly string[]): Record<string, { days: number }> {
  const confidentialPurposes: Record<string, { days: number }> = {};
  for (const code of codes) {
    const purpose = policy.purpose(code);
    if (purpose?.discloseAfter) confidentialPurposes[code] = { days: durationDays(purpose.discloseAfter) };
  }
  return confidentialPurposes;
}

/** Settings of the hub's access log. */
export interface HubAuditOptions {
  dir: string;
  instanceId: string;
  keyStore: KeyStore;
  policy: PolicyEngine;
  confidentialPurposes: readonly string[];
  subjectKeySecret: string;
  checkpointEveryRecords?: number;
  checkpointEveryMs?: number;
  retentionDays?: number;
  onEvent?: (event: AuditLogEvent) => void;
  /** Where records go instead of segment files in `dir` (an instance's audit stream in Redis). */
  sink?: AuditSink;
  /** @default true: false skips fdatasync (benchmark baseline only). */
  fsync?: boolean;
  /** The keys directory: the newest head is kept there too (`auditHeadFile`). */
  keysDir?: string;
  /** See AuditLogOptions.onChainBreak. @default 'refuse' */
  onChainBreak?: 'refuse' | 'record';
  breakReason?: string;
  /** Hears each durable batch (the shared index's writer). */
  onDurable?: (records: readonly AuditRecord[]) => void;
  /** Hears how long each fdatasync of the segment files took, in seconds (metrics). */
  onDatasync?: (seconds: number) => void;
}

/** The file system of the log, its fdatasync timed for the metrics. */
function timedFs(base: AuditFs, onDatasync: (seconds: number) => void): AuditFs {
  return {
    ...base,
    async datasync(fd) {
      const started = performance.now();
      try {
        await base.datasync(fd);
      } finally {
        onDatasync((performance.now() - started) / 1000);
      }
    },
  };
}

/** Opens the hub's access log (repairing a torn tail left by a crash). */
export async function openHubAuditLog(options: HubAuditOptions): Promise<AuditLog> {
  const confidentialPurposes = hubConfidentialPurposes(options.policy, options.confidentialPurposes);
  return openAuditLog({
    dir: options.dir,
    instanceId: options.instanceId,
    sign: auditSigner(options.keyStore),
    verify: auditVerifier({ keyStore: options.keyStore }),
    ...(options.keysDir ? { headFile: auditHeadFile(options.keysDir, options.instanceId) } : {}),
    ...(options.onChainBreak ? { onChainBreak: options.onChainBreak } : {}),
    ...(options.breakReason ? { breakReason: options.breakReason } : {}),
    subjectKeySecret: options.subjectKeySecret,
    confidentialPurposes,
    ...(options.checkpointEveryRecords ? { checkpointEveryRecords: options.checkpointEveryRecords } : {}),
    ...(options.checkpointEveryMs ? { checkpointEveryMs: options.checkpointEveryMs } : {}),
    ...(options.retentionDays ? { retentionDays: options.retentionDays } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    ...(options.sink ? { sink: options.sink } : {}),
    ...(options.fsync === false || options.onDatasync ? { fs: options.onDatasync ? timedFs(options.fsync === false ? noSyncAuditFs : nodeAuditFs, options.onDatasync) : noSyncAuditFs } : {}),
    ...(options.onDurable ? { onDurable: options.onDurable } : {}),
  });
}

/**
 * The log of one instance with the queries answered by the shared index over every instance
 * (multi-instance mode): appends, health and checkpoints are the log's; `accessLog` and
 * `dataAccesses` are the index's, their records read back from the owning chains.
 */
export function withSharedIndex(log: AuditLog, index: SharedAccessIndex): AuditLog {
  const close = async (): Promise<void> => {
    try {
      await log.close();
    } finally {
      await index.close();
    }
  };
  // A proxy, so that whatever else the log offers passes through unchanged.
  return new Proxy(log, {
    get(target, property, receiver) {
      if (property === 'queryAccessLog') return index.queryAccessLog.bind(index);
      if (property === 'citizenAccesses') return index.citizenAccesses.bind(index);
      if (property === 'close') return close;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export { openAuditLogReader };

/** What the self-reopening log reports (never record values). */
export type ReopeningAuditLogEvent = { type: 'audit-reopened' } | { type: 'audit-open-failed'; code: string };

/** Options of `openReopeningAuditLog`. */
export interface ReopeningAuditLogOptions {
  /** Opens the log afresh (its sink reads the chain's head from the store, so the chain continues). */
  open(): Promise<AuditLog>;
  instanceId: string;
  /** Time between attempts while the store is unreachable, in milliseconds. @default 250 */
  retryMs?: number;
  onEvent?: (event: ReopeningAuditLogEvent) => void;
}

/** Defaults of the self-reopening log. */
export const DEFAULT_REOPENING_AUDIT_LOG = Object.freeze({ retryMs: 250 });

/**
 * An access log over a store that can go away and come back (Redis): after a failed write the
 * log refuses appends (AUDIT_UNAVAILABLE, so no data leaves without its record) and is reopened
 * in the background until the store answers again; the reopened log reads the chain's head back
 * from the store, so a batch whose acknowledgement was lost is continued from, never forked.
 * Starts even when the store is down at first, refusing appends until it is up.
 */
export async function openReopeningAuditLog(options: ReopeningAuditLogOptions): Promise<AuditLog> {
  const log = new ReopeningAuditLog(options);
  await log.reopenNow();
  return log;
}

class ReopeningAuditLog implements AuditLog {
  readonly instanceId: string;
  private log: AuditLog | undefined;
  private reopening: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private lastHealth: AuditLogHealth = { writable: false, reason: 'IO_ERROR', seq: 0, checkpointSeq: 0 };
  private lastFailure: string | undefined;

  constructor(private readonly options: ReopeningAuditLogOptions) {
    this.instanceId = options.instanceId;
  }

  get chainId(): string {
    return this.log?.chainId ?? '';
  }

  private opened(): AuditLog {
    if (!this.log) {
      this.reopen();
      throw new AuditUnavailableError('IO_ERROR');
    }
    return this.log;
  }

  /** Replaces a failed log by a fresh one (once at a time); retries on a timer until it works. */
  reopenNow(): Promise<void> {
    this.reopening ??= (async () => {
      const old = this.log;
      this.log = undefined;
      if (old) {
        this.lastHealth = old.health();
        await old.close().catch(() => undefined);
      }
      try {
        const opened = await this.options.open();
        if (this.closed) {
          await opened.close();
          return;
        }
        this.log = opened;
        if (this.lastFailure !== undefined) this.options.onEvent?.({ type: 'audit-reopened' });
        this.lastFailure = undefined;
      } catch (error) {
        const code = String((error as { code?: unknown })?.code ?? (error as Error)?.name ?? 'error');
        if (code !== this.lastFailure) this.options.onEvent?.({ type: 'audit-open-failed', code });
        this.lastFailure = code;
        if (!this.closed) {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.reopen();
          }, this.options.retryMs ?? DEFAULT_REOPENING_AUDIT_LOG.retryMs);
          this.timer.unref();
        }
      }
    })().finally(() => {
      this.reopening = undefined;
    });
    return this.reopening;
  }

  private reopen(): void {
    if (this.closed || this.reopening || this.timer) return;
    void this.reopenNow();
  }

  append(record: AuditRecordInput): Promise<{ seq: number; hash: string }> {
    const log = this.log;
    if (!log || !log.health().writable) {
      this.reopen();
      return Promise.reject(new AuditUnavailableError(log ? 'FAILED_EARLIER' : 'IO_ERROR'));
    }
    return log.append(record).catch((error: unknown) => {
      // A malformed record leaves the log writable: only a failed store needs a new one.
      if (!log.health().writable) this.reopen();
      throw error;
    });
  }

  checkpoint(): Promise<void> {
    return this.log ? this.log.checkpoint() : Promise.resolve();
  }

  health(): AuditLogHealth {
    return this.log?.health() ?? { ...this.lastHealth, writable: false, reason: this.lastHealth.reason ?? 'IO_ERROR' };
  }

  queryAccessLog(...args: Parameters<AuditLog['queryAccessLog']>): ReturnType<AuditLog['queryAccessLog']> {
    return this.opened().queryAccessLog(...args);
  }

  citizenAccesses(...args: Parameters<AuditLog['citizenAccesses']>): ReturnType<AuditLog['citizenAccesses']> {
    return this.opened().citizenAccesses(...args);
  }

  records(filter: Parameters<AuditLog['records']>[0]): ReturnType<AuditLog['records']> {
    return this.opened().records(filter);
  }

  subjectOf(subject: SubjectRef): ReturnType<AuditLog['subjectOf']> {
    return this.opened().subjectOf(subject);
  }

  treeHead(): ReturnType<AuditLog['treeHead']> {
    return this.log?.treeHead() ?? null;
  }

  inclusionProof(...args: Parameters<AuditLog['inclusionProof']>): ReturnType<AuditLog['inclusionProof']> {
    return this.opened().inclusionProof(...args);
  }

  consistencyProof(...args: Parameters<AuditLog['consistencyProof']>): ReturnType<AuditLog['consistencyProof']> {
    return this.opened().consistencyProof(...args);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.reopening;
    await this.log?.close();
    this.log = undefined;
  }
}

const KIND: Record<string, SubjectKind> = { person: 'PERSON', enterprise: 'ENTERPRISE', property: 'PROPERTY' };

/** What one request did, for its access record. */
export interface AccessFacts {
  /** The hub-made request id. */
  requestId: string;
  /** The client's `x-request-id`, as sent (the access log stores it, or its hash when it cannot be stored as given). */
  correlationId: string | null;
  /** The client's address as `sourceOf` computes it; null when unknown. */
  source: string | null;
  caller: Caller | null;
  decision: Decision | null;
  query: string | null;
  operationName: string | null;
  outcome: AuditOutcome;
  errorCodes: readonly string[];
  replyHash: string | null;
  /** Entities the reply carries beyond those the operation names (linked persons, owners …). */
  replySubjects?: readonly SubjectRef[];
  /** The state changes the request made (mutations), in order. */
  changes?: readonly AuditChange[];
  /** The id shared with a peer hub's records of the calls this request made to it (跨域通办). */
  federationRequestId?: string;
}

/** The access record of one request: who, on whose behalf, why, which subjects and fields, the outcome; no values. */
export function accessRecord(facts: AccessFacts): AuditRecordInput {
  const { caller, decision } = facts;
  const subjects: SubjectRef[] = [];
  const seen = new Set<string>();
  for (const s of decision?.subjects ?? []) {
    if (s.id === null) continue;
    const kind = KIND[s.kind];
    if (!kind || seen.has(`${kind}:${s.id}`)) continue;
    seen.add(`${kind}:${s.id}`);
    subjects.push({ kind, id: s.id });
  }
  // Every entity the reply carries, however it was reached (subjects.ts).
  for (const s of facts.replySubjects ?? []) {
    if (seen.has(`${s.kind}:${s.id}`)) continue;
    seen.add(`${s.kind}:${s.id}`);
    subjects.push(s);
  }
  const fields: Record<string, string[]> = {};
  for (const [department, coordinates] of Object.entries(decision?.reads ?? {})) {
    if (!HUB_PSEUDO_DEPARTMENTS.has(department)) fields[department] = [...new Set(coordinates)].sort();
  }
  return {
    requestId: facts.requestId,
    correlationId: facts.correlationId ?? null,
    source: facts.source ?? null,
    consumer: caller?.consumer ?? decision?.consumer ?? null,
    operator: caller?.operator ?? null,
    purpose: caller?.purpose ?? null,
    caseNumber: caller?.caseNumber ?? null,
    operationName: facts.operationName ?? decision?.operationName ?? null,
    operationHash: facts.query === null ? null : hashText(facts.query),
    subjects,
    fields,
    outcome: facts.outcome,
    errorCodes: [...new Set(facts.errorCodes)].sort(),
    replyHash: facts.replyHash,
    receiptId: facts.replyHash === null ? null : facts.requestId,
    ...(facts.changes && facts.changes.length > 0 ? { changes: facts.changes } : {}),
    // A peer hub's request (跨域通办): whom it asked for, and the id both hubs' records share.
    ...(caller?.onBehalfOf
      ? {
          onBehalfOf: { hub: caller.onBehalfOf.hub, consumer: caller.onBehalfOf.consumer, request: caller.onBehalfOf.request },
          federationRequestId: caller.onBehalfOf.federation,
        }
      : facts.federationRequestId !== undefined
        ? { federationRequestId: facts.federationRequestId }
        : {}),
  };
}

/** The text names of an `AccessChange` (schema/audit.graphql); `late` is its one flag, `statusIndex` its one number. */
const CHANGE_TEXTS = ['caseId', 'eventId', 'department', 'action', 'by', 'at', 'from', 'to', 'outcome', 'noteHash', 'kind', 'reference', 'statusList'] as const;

/** A recorded state change as the auditor reads it: the names the graph knows, each of its type or null. */
function accessChangeOut(change: Readonly<Record<string, string | number | boolean | null>>): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = { entity: typeof change.entity === 'string' ? change.entity : 'unknown' };
  for (const name of CHANGE_TEXTS) out[name] = typeof change[name] === 'string' ? (change[name] as string) : null;
  out.late = typeof change.late === 'boolean' ? change.late : null;
  out.statusIndex = typeof change.statusIndex === 'number' ? change.statusIndex : null;
  return out;
}

function requireRole(ctx: RequestContext, role: string): void {
  if (!ctx.caller?.roles.includes(role)) throw new HubError(HubErrorCode.FORBIDDEN, `This field needs the "${role}" role.`);
}

/**
 * Resolvers of the access log: `accessLog` for auditors, answered from the log's index, and
 * `dataAccesses`, the citizen's view for the one-window hall (the policy has already required the
 * citizen's consent for that identifier). Role checks repeat the policy's, as a second lock.
 */
export function createAuditResolvers(
  log: () => AuditLog | undefined,
  options: {
    otherHeads?: () => Promise<SignedTreeHead[]>;
    prover?: () => ChainProver | undefined;
    /** Whether an id is a consumer of this hub: a `consumer` filter that finds nothing for any other id is refused (a typo would read as "no access"). */
    isConsumer?: (id: string) => boolean;
  } = {},
): Resolvers {
  const opened = (): AuditLog => {
    const l = log();
    if (!l) throw new HubError(HubErrorCode.AUDIT_UNAVAILABLE, 'The access log is not enabled on this hub.');
    return l;
  };
  const headOut = ({ head, jws }: SignedTreeHead) => ({ instance: head.instance, chain: head.chain, size: head.size, root: head.root, time: head.time, jws });
  /** Proofs come from this instance's own tree, or (several instances) from another's chain, checked against its signed head. */
  const proverFor = (instance: string): Pick<ChainProver, 'inclusionProof' | 'consistencyProof'> => {
    const l = opened();
    if (instance === l.instanceId) {
      return { inclusionProof: (_i, seq, size) => l.inclusionProof(seq, size), consistencyProof: async (_i, from, to) => l.consistencyProof(from, to) };
    }
    const other = options.prover?.();
    if (!other) throw new BadUserInputError('instance', `is ${quotedArgument(instance)}, but this hub is the single instance ${JSON.stringify(l.instanceId)}`);
    return other;
  };
  return {
    Query: {
      auditHeads: async (_p, _args, ctx) => {
        requireRole(ctx as RequestContext, 'auditor');
        const own = opened().treeHead();
        const others = (await options.otherHeads?.()) ?? [];
        const heads = [...(own ? [own] : []), ...others.filter((h) => h.head.instance !== own?.head.instance)];
        return heads.sort((a, b) => (a.head.instance < b.head.instance ? -1 : 1)).map(headOut) as never;
      },
      auditProof: async (_p, args, ctx) => {
        requireRole(ctx as RequestContext, 'auditor');
        const proof = await proverFor(args.instance).inclusionProof(args.instance, args.seq, args.treeSize ?? undefined);
        return { ...proof, head: proof.head ? headOut(proof.head) : null } as never;
      },
      auditConsistency: async (_p, args, ctx) => {
        requireRole(ctx as RequestContext, 'auditor');
        return (await proverFor(args.instance).consistencyProof(args.instance, args.from, args.to)) as never;
      },
      accessLog: async (_p, args, ctx) => {
        requireRole(ctx as RequestContext, 'auditor');
        const f = args.filter ?? {};
        if (f.federationRequestId === '') throw new BadUserInputError('filter.federationRequestId', 'must not be empty: give the federation request id, or leave it out');
        // Who watches the auditors: a lookup by subject is an access to that subject, recorded
        // with it, so the citizen sees that the audit office looked at their records.
        if (f.subject && typeof f.subject.id === 'string' && f.subject.id.length > 0) {
          const subject: SubjectRef = { kind: f.subject.kind as SubjectKind, id: f.subject.id };
          (ctx as RequestContext).replySubjects?.set(`${subject.kind}:${subject.id}`, subject);
        }
        const page = await opened().queryAccessLog(
          {
            ...(f.consumer ? { consumer: f.consumer } : {}),
            ...(f.subject ? { subject: { kind: f.subject.kind, id: f.subject.id } } : {}),
            ...(f.department ? { department: f.department } : {}),
            ...(f.purpose ? { purpose: f.purpose } : {}),
            ...(f.caseNumber ? { caseNumber: f.caseNumber } : {}),
            ...(f.outcome ? { outcome: f.outcome } : {}),
            ...(typeof f.federationRequestId === 'string' ? { federationRequestId: f.federationRequestId } : {}),
            ...(f.from ? { from: f.from } : {}),
            ...(f.to ? { to: f.to } : {}),
          },
          { first: args.first ?? 50, after: args.after ?? null },
        );
        // Nothing found for a consumer id the hub does not know: a typo, not "no access" (a consumer since removed still finds its records).
        if (page.edges.length === 0 && !args.after && f.consumer && options.isConsumer && !options.isConsumer(f.consumer)) {
          throw new BadUserInputError('filter.consumer', `names no consumer of this hub, and no record holds it: ${quotedArgument(f.consumer)}`);
        }
        return {
          pageInfo: page.pageInfo,
          edges: page.edges.map(({ cursor, node }) => ({
            cursor,
            node: {
              ...node,
              correlationId: node.correlationId ?? null,
              source: node.source ?? null,
              hashed: node.hashed ?? [],
              count: node.count ?? 1,
              windowFrom: node.window?.from ?? null,
              windowTo: node.window?.to ?? null,
              subjects: node.subjects.map((s) => ({ kind: s.kind, mask: s.mask })),
              fields: Object.entries(node.fields).map(([department, coordinates]) => ({ department, coordinates })),
              changes: (node.changes ?? []).map(accessChangeOut),
              onBehalfOf: node.onBehalfOf ?? null,
              federationRequestId: node.federationRequestId ?? null,
            },
          })),
        } as never;
      },
      dataAccesses: async (_p, args, ctx) => {
        requireRole(ctx as RequestContext, 'consent-issuer');
        const page = await opened().citizenAccesses({ kind: 'PERSON', id: args.idNumber }, { first: args.first ?? 50, after: args.after ?? null });
        return page as never;
      },
    },
  };
}
