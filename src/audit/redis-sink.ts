/**
 * The audit sink in Redis: each hub instance appends its own hash chain to its own stream, entry
 * id `<seq>-0`, so the stream order is the chain order and a record can be found by its seq. The
 * audit log (src/audit) does the chaining, group commit and checkpoints exactly as with files;
 * this sink only stores. A batch is appended by one Lua script that first checks the stream
 * continues where this writer expects (so a second writer cannot fork the chain) and then adds
 * every record: all of the batch or none of it. The append resolves once Redis acknowledged it
 * (and, when configured, once enough replicas did: WAIT). An archiver (archiver.ts) copies
 * the streams into segment files and trims what it archived.
 *
 * Keys of instance `hub-1` (below the hub's key prefix, which src/state adds), all in one
 * cluster slot through the hash tag:
 *   audit:{hub-1}:records       the records, id <seq>-0, field r = the canonical line
 *   audit:{hub-1}:checkpoints   signed checkpoints, field seq and r = the checkpoint line
 *   audit:{hub-1}:meta          chain id, head (seq, hash, time), newest checkpoint seq
 *   audit:instances             the instance ids that have a stream (for the archiver)
 * The Redis commands themselves are src/state's stream primitives.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { RedisUnavailableError, seqOfEntryId, StateErrorCode, type Lease, type RedisStreams } from '../state';
import { parseTreeHeadLine, type AuditTreeHead } from './checkpoint';
import { AuditInstanceInUseError, AuditReplicasMissingError, AuditStreamConflictError } from './errors';
import { createFileSink } from './file-sink';
import type { AuditRecord } from './record';
import type { AuditLogEvent, AuditSink, AuditSinkState, SinkHead } from './sink';

/** The keys of one instance's audit stream. */
export interface AuditStreamKeys {
  readonly records: string;
  readonly checkpoints: string;
  readonly meta: string;
}

/** The keys of an instance's stream (hash-tagged by instance id, so they share a cluster slot). */
export function auditStreamKeys(instanceId: string): AuditStreamKeys {
  const base = `audit:{${instanceId}}`;
  return { records: `${base}:records`, checkpoints: `${base}:checkpoints`, meta: `${base}:meta` };
}

/** The set of instance ids with a stream. */
export const AUDIT_INSTANCES_KEY = 'audit:instances';

/** The name of the lease that keeps a second process off an instance's stream. */
function auditLeaseName(instanceId: string): string {
  return `audit:{${instanceId}}`;
}

/**
 * Where an instance's chain is archived: `<root>/<instanceId>/`, unless that directory holds
 * another chain (Redis lost the instance's stream and it started a new one), in which case the
 * new chain gets `<root>/<instanceId>.<8 hex digits of its chain id's hash>/`: never two chains in
 * one directory.
 */
export function archiveDirOf(root: string, instanceId: string, chainId: string): string {
  const dir = path.join(root, instanceId);
  try {
    const held = (JSON.parse(readFileSync(path.join(dir, 'chain.json'), 'utf8')) as { chain?: unknown }).chain;
    if (held !== chainId) return `${dir}.${createHash('sha256').update(chainId, 'utf8').digest('hex').slice(0, 8)}`;
  } catch {
    // No chain archived there yet: it is this chain's.
  }
  return dir;
}

/** Options of the Redis audit sink. */
export interface RedisAuditSinkOptions {
  streams: RedisStreams;
  /** This hub instance: its stream. */
  instanceId: string;
  /** Makes this process's lease on a named task (the shared state's `lease`); the sink takes one on its instance id, lasting `leaseTtlMs`, so a second process stays off the stream. */
  leaseOf: (name: string, ttlMs: number) => Lease;
  /** Replicas that must acknowledge every batch (WAIT) before it counts as written. @default 0 */
  waitReplicas?: number;
  /** How long to wait for them. @default 1000 */
  waitTimeoutMs?: number;
  /** How long the instance lease lasts without renewal; a crashed process's id is free again after it. @default 15000 */
  leaseTtlMs?: number;
  /** The archive root (`<dir>/<instanceId>/` holds this instance's archived segments): records trimmed from Redis are read from there. */
  archiveDir?: string;
  onEvent?: (event: AuditLogEvent) => void;
}

/** Defaults of the Redis audit sink. */
export const DEFAULT_REDIS_AUDIT_SINK = Object.freeze({ waitReplicas: 0, waitTimeoutMs: 1000, leaseTtlMs: 15_000 });

const PAGE = 1000;

/** Creates the sink of one instance's audit stream. */
export function createRedisAuditSink(options: RedisAuditSinkOptions): AuditSink {
  const { streams, instanceId } = options;
  const keys = auditStreamKeys(instanceId);
  const waitReplicas = options.waitReplicas ?? DEFAULT_REDIS_AUDIT_SINK.waitReplicas;
  const waitTimeoutMs = options.waitTimeoutMs ?? DEFAULT_REDIS_AUDIT_SINK.waitTimeoutMs;
  const leaseTtlMs = options.leaseTtlMs ?? DEFAULT_REDIS_AUDIT_SINK.leaseTtlMs;
  // One TTL for the lease and its renewal: renewed every third of it.
  const lease = options.leaseOf(auditLeaseName(instanceId), leaseTtlMs);
  let archive: string | undefined;
  let renewal: NodeJS.Timeout | undefined;
  let lost = false;
  /** The chain this sink opened: heads of it are stored only while the store still holds it. */
  let openedChain: string | undefined;
  let archived: { sink: AuditSink; headSeq: number } | undefined;
  /** The chain this writer continues (from open): every append checks Redis still names it. */
  let chain: string | undefined;

  function parse(line: string): AuditRecord | undefined {
    try {
      return JSON.parse(line) as AuditRecord;
    } catch {
      return undefined;
    }
  }

  /** The archived part of this instance's chain, opened read-only (and again when asked for newer records). */
  async function openArchive(replay: (record: AuditRecord, line: string) => void = () => undefined, chainId?: string): Promise<typeof archived> {
    if (!archive || !existsSync(path.join(archive, 'chain.json'))) return undefined;
    await archived?.sink.close();
    archived = undefined;
    const sink = createFileSink({ dir: archive, readOnly: true });
    try {
      const state = await sink.open({ chainId: chainId ?? '', instanceId }, replay);
      if (chainId !== undefined && state.chainId !== chainId) {
        await sink.close();
        return undefined;
      }
      archived = { sink, headSeq: state.head?.seq ?? 0 };
      return archived;
    } catch {
      await sink.close();
      return undefined;
    }
  }

  return {
    async open(request, replay): Promise<AuditSinkState> {
      if (!(await lease.tryHold())) {
        if (!streams.isReady()) throw new RedisUnavailableError('opening the audit stream');
        throw new AuditInstanceInUseError(instanceId);
      }
      lost = false;
      renewal = setInterval(() => {
        void lease.tryHold().then((ok) => {
          // Another process holds our id now: stop appending rather than fork the chain.
          if (!ok && streams.isReady()) lost = true;
        });
      }, Math.max(100, Math.floor(leaseTtlMs / 3)));
      renewal.unref();
      try {
        await streams.hashSetIfAbsent(keys.meta, 'chain', request.chainId);
        await streams.hashSetIfAbsent(keys.meta, 'created', new Date().toISOString());
        await streams.setAdd(AUDIT_INSTANCES_KEY, instanceId);
        const meta = await streams.hashGetAll(keys.meta);
        const chainId = meta.chain!;
        openedChain = chainId;
        chain = chainId;
        if (options.archiveDir) archive = archiveDirOf(options.archiveDir, instanceId, chainId);
        const head: SinkHead | null = meta.headSeq && Number(meta.headSeq) > 0 ? { seq: Number(meta.headSeq), hash: meta.headHash!, time: meta.headTime! } : null;
        // The index covers the whole chain: the archived part first, then what Redis still holds.
        let seen = 0;
        const opened = await openArchive((record, line) => {
          seen = record.seq;
          replay(record, line);
        }, chainId);
        let from = `${(opened?.headSeq ?? seen) + 1}-0`;
        for (;;) {
          const page = await streams.range(keys.records, from, '+', PAGE);
          for (const { id, fields } of page) {
            const record = parse(fields.r ?? '');
            if (record && record.seq > seen) {
              replay(record, fields.r!);
              seen = record.seq;
            } else if (!record) options.onEvent?.({ type: 'record-unreadable', segment: keys.records, line: seqOfEntryId(id) });
          }
          if (page.length < PAGE) break;
          from = `${seqOfEntryId(page[page.length - 1]!.id) + 1}-0`;
        }
        return { chainId, head, lastCheckpointSeq: Number(meta.checkpointSeq ?? 0), ...(meta.headLine ? { newestHead: meta.headLine } : {}), ...(meta.retentionLine ? { retentionHead: meta.retentionLine } : {}) };
      } catch (error) {
        await this.close();
        throw error instanceof AuditInstanceInUseError ? error : new RedisUnavailableError('opening the audit stream', error);
      }
    },

    async append(batch) {
      if (batch.length === 0) return {};
      if (lost || !lease.held) throw lost ? new AuditInstanceInUseError(instanceId) : new RedisUnavailableError('renewing the audit stream lease');
      const last = batch[batch.length - 1]!;
      try {
        const head = { headSeq: String(last.seq), headHash: last.hash, headTime: last.time };
        // Checked with the seq in the same script: after Redis lost its data the meta hash is
        // empty, and a writer at seq 0 would otherwise fill a stream that names no chain (or
        // another one), orphaning its records.
        await streams.appendSequenced(keys.records, keys.meta, batch[0]!.seq, 'r', batch.map((r) => r.line), head, { chain: chain ?? '' });
      } catch (error) {
        if ((error as { code?: string }).code === StateErrorCode.STREAM_SEQUENCE_CONFLICT) {
          if ((error as { conflict?: string }).conflict === 'head') throw new AuditStreamConflictError(instanceId, `no longer names this writer's chain at record ${batch[0]!.seq} (Redis lost its data, or another chain took the stream)`);
          throw new AuditStreamConflictError(instanceId, `does not continue at record ${batch[0]!.seq}`);
        }
        throw error;
      }
      if (waitReplicas > 0) {
        const acked = await streams.waitForReplicas(keys.records, waitReplicas, waitTimeoutMs);
        if (acked < waitReplicas) throw new AuditReplicasMissingError(waitReplicas, acked);
      }
      return {};
    },

    async appendCheckpoint({ seq, line }) {
      // A store that lost its data (flushed) no longer holds this chain: a head of it must not land
      // beside the chain the store starts next.
      if ((await streams.hashGet(keys.meta, 'chain')) !== openedChain) throw new AuditStreamConflictError(instanceId, 'no longer holds the chain this head belongs to');
      // The head and the newest-head line read back at open (to check the stream against it before
      // signing anything, and to chain the next head to it) in one script: a store that went away
      // between the two would otherwise hold a head its newest-head line does not name.
      await streams.add(keys.checkpoints, { seq: String(seq), r: line }, { hash: keys.meta, field: 'checkpointSeq', value: seq, set: { headLine: line } });
    },

    async read(seqs) {
      const found = new Map<number, AuditRecord>();
      const replies = await Promise.all(seqs.map((seq) => streams.range(keys.records, `${seq}-0`, `${seq}-0`).catch(() => [])));
      replies.forEach((entries) => {
        const record = entries[0] ? parse(entries[0].fields.r ?? '') : undefined;
        if (record) found.set(record.seq, record);
      });
      // Trimmed from Redis once archived: read those from the archive, if this machine sees it.
      const rest = seqs.filter((s) => !found.has(s));
      if (rest.length > 0) {
        let reader = archived;
        if (!reader || Math.max(...rest) > reader.headSeq) reader = await openArchive();
        if (reader) for (const record of await reader.sink.read(rest)) found.set(record.seq, record);
      }
      return seqs.filter((s) => found.has(s)).map((s) => found.get(s)!);
    },

    // Retention of the archive is the archiver's; Redis holds only what is not archived yet.
    async expire() {
      return null;
    },

    async close() {
      if (renewal) clearInterval(renewal);
      renewal = undefined;
      await archived?.sink.close();
      archived = undefined;
      await lease.release();
    },
  };
}

/** The newest signed tree head of every instance with a stream in the shared store (as each instance last stored it). */
export async function newestHeadsInStore(streams: RedisStreams): Promise<Array<{ head: AuditTreeHead; jws: string }>> {
  const heads: Array<{ head: AuditTreeHead; jws: string }> = [];
  for (const instance of (await streams.setMembers(AUDIT_INSTANCES_KEY)).sort()) {
    const signed = parseTreeHeadLine(await streams.hashGet(auditStreamKeys(instance).meta, 'headLine'));
    if (signed) heads.push(signed);
  }
  return heads;
}
