/**
 * The audit archiver: one instance at a time (the holder of a lease) reads every instance's
 * audit stream through the consumer group `archiver` and writes it, record for record and byte
 * for byte, into that instance's segment files under the archive directory with the embedded
 * file sink (`<dir>/<instanceId>/`, the layout `datarun audit verify` reads), then acknowledges
 * and trims what is durable on disk (a chain that Redis lost and restarted goes to a directory of
 * its own, see archiveDirOf). Signed tree heads follow, line for line, once the records they
 * cover are archived. Before retention removes old archived segments, the archiver signs a
 * retention record (the Merkle frontier of the removed records and the last one's chain hash), so
 * the archive still verifies and proves from there. The archive is the cursor: on taking over, the group is set back
 * to the last archived record, so a record is archived exactly once whoever archived before.
 */
import { seqOfEntryId, type Lease, type RedisStreams } from '../state';
import { canonicalJson } from './canonical-json';
import { parseTreeHeadLine, retentionRecord, signTreeHead, type AuditSigner } from './checkpoint';
import { createFileSink } from './file-sink';
import { leafHash, MerkleFrontier } from './merkle';
import { AuditLogCorruptError } from './errors';
import { archiveDirOf, AUDIT_INSTANCES_KEY, auditStreamKeys } from './redis-sink';
import type { AuditLogEvent, AuditSink, SinkHead, SinkRecord } from './sink';

/** Name of the archiver's consumer group on every instance stream. */
export const ARCHIVER_GROUP = 'archiver';

/** What the archiver reports (never record values). */
export type AuditArchiverEvent =
  | AuditLogEvent
  | { type: 'archive-failed'; instance: string; reason: string }
  | { type: 'archive-gap'; instance: string; expectedSeq: number; foundSeq: number }
  | { type: 'archive-chain-mismatch'; instance: string };

/** Options of the archiver. */
export interface AuditArchiverOptions {
  streams: RedisStreams;
  /** The archive root; instance `hub-1` goes to `<dir>/hub-1/`. */
  dir: string;
  /** Only its holder archives. */
  lease: Lease;
  /** This process's consumer name in the group. */
  consumer: string;
  /** Signs retention records before archived segments are removed (the hub's checkpoint key); without it, retention removes nothing. */
  sign?: AuditSigner;
  /** Time between rounds when there is nothing to archive, in milliseconds. @default 200 */
  intervalMs?: number;
  /** Records read per stream per step. @default 500 */
  batchSize?: number;
  /** Archived segments older than this many days are removed (only whole, checkpoint-anchored ones). @default 180 */
  retentionDays?: number;
  onEvent?: (event: AuditArchiverEvent) => void;
}

/** Defaults of the archiver. */
export const DEFAULT_AUDIT_ARCHIVER = Object.freeze({ intervalMs: 200, batchSize: 500, retentionDays: 180 });

/** A running archiver. */
export interface AuditArchiver {
  /** Archives what the streams hold now (if this process holds the lease); resolves to the records archived. */
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

interface Archive {
  sink: AuditSink;
  chainId: string;
  head: SinkHead | null;
  checkpointSeq: number;
  aligned: boolean;
  lastRetention: number;
  /** Where the newest retention record left the chain: records 1..through removed, their frontier. */
  pruned: { through: number; frontier: Buffer[] };
  /** The newest tree head line in the archive, as the stream holds it. */
  newestHeadLine: string | undefined;
}

function prunedOf(line: string | undefined): Archive['pruned'] {
  const head = parseTreeHeadLine(line)?.head;
  if (head && Number.isSafeInteger(head.prunedThrough) && Array.isArray(head.frontier)) return { through: head.prunedThrough!, frontier: head.frontier.map((h) => Buffer.from(h, 'base64url')) };
  return { through: 0, frontier: [] };
}

/** Starts archiving. */
export function startAuditArchiver(options: AuditArchiverOptions): AuditArchiver {
  const { streams } = options;
  const intervalMs = options.intervalMs ?? DEFAULT_AUDIT_ARCHIVER.intervalMs;
  const batchSize = options.batchSize ?? DEFAULT_AUDIT_ARCHIVER.batchSize;
  const retentionMs = (options.retentionDays ?? DEFAULT_AUDIT_ARCHIVER.retentionDays) * 86_400_000;
  const emit = options.onEvent ?? (() => undefined);
  const archives = new Map<string, Archive>();
  let running: Promise<number> | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  async function closeAll(): Promise<void> {
    const open = [...archives.values()];
    archives.clear();
    await Promise.allSettled(open.map((a) => a.sink.close()));
  }

  async function archiveOf(instance: string): Promise<Archive | undefined> {
    const known = archives.get(instance);
    if (known) return known;
    const keys = auditStreamKeys(instance);
    const chainId = await streams.hashGet(keys.meta, 'chain');
    if (!chainId) return undefined;
    const sink = createFileSink({ dir: archiveDirOf(options.dir, instance, chainId), onEvent: emit, archive: true });
    const state = await sink.open({ chainId, instanceId: instance }, () => undefined);
    if (state.chainId !== chainId) {
      // Never mix two chains in one log (archiveDirOf avoids it; a directory changed under us does not).
      await sink.close();
      emit({ type: 'archive-chain-mismatch', instance });
      return undefined;
    }
    const archive: Archive = { sink, chainId, head: state.head, checkpointSeq: state.lastCheckpointSeq, aligned: false, lastRetention: 0, pruned: prunedOf(state.retentionHead), newestHeadLine: state.newestHead };
    archives.set(instance, archive);
    return archive;
  }

  async function archiveRecords(instance: string, archive: Archive): Promise<number> {
    const keys = auditStreamKeys(instance);
    if (!archive.aligned) {
      // The archive is the truth about what was archived; the group only delivers what comes after it.
      await streams.setGroupCursor(keys.records, ARCHIVER_GROUP, `${archive.head?.seq ?? 0}-0`);
      archive.aligned = true;
    }
    let total = 0;
    for (;;) {
      const entries = await streams.readGroup(keys.records, ARCHIVER_GROUP, options.consumer, batchSize);
      if (entries.length === 0) return total;
      const headSeq = archive.head?.seq ?? 0;
      const batch: SinkRecord[] = [];
      let expected = headSeq + 1;
      for (const { id, fields } of entries) {
        const seq = seqOfEntryId(id);
        if (seq <= headSeq) continue;
        if (seq !== expected) {
          // A hole would break the archived chain: stop here and keep everything in Redis for an operator.
          emit({ type: 'archive-gap', instance, expectedSeq: expected, foundSeq: seq });
          archive.aligned = false;
          break;
        }
        const line = fields.r ?? '';
        const parsed = JSON.parse(line) as { time: string; hash: string };
        batch.push({ seq, time: parsed.time, hash: parsed.hash, line });
        expected++;
      }
      if (batch.length > 0) {
        if (!options.lease.held) return total;
        await archive.sink.append(batch);
        const last = batch[batch.length - 1]!;
        archive.head = { seq: last.seq, hash: last.hash, time: last.time };
        total += batch.length;
      }
      await streams.ack(keys.records, ARCHIVER_GROUP, entries.map((e) => e.id));
      // Durable on disk now: Redis keeps only what is not archived yet.
      if (archive.head) await streams.trimBefore(keys.records, `${archive.head.seq + 1}-0`);
      if (!archive.aligned) return total;
    }
  }

  async function archiveCheckpoints(instance: string, archive: Archive): Promise<void> {
    const keys = auditStreamKeys(instance);
    const after = (await streams.hashGet(keys.meta, 'archivedCheckpointId')) ?? '0-0';
    const entries = await streams.range(keys.checkpoints, `(${after}`, '+', 100);
    let lastId: string | undefined;
    // Copying is not atomic with moving the cursor: a cursor that was not saved (Redis went away
    // between the two) delivers again heads the archive already holds. Heads are copied in stream
    // order, so everything up to the archive's newest head is there already: skip it, never copy a head twice.
    const copied = archive.newestHeadLine === undefined ? -1 : entries.findIndex((e) => e.fields.r === archive.newestHeadLine);
    if (copied >= 0) lastId = entries[copied]!.id;
    for (const { id, fields } of entries.slice(copied + 1)) {
      const seq = Number(fields.seq);
      // A head covers records: it follows them into the archive, never ahead of them; every head line is copied, in order (each names the one before).
      if (!(seq <= (archive.head?.seq ?? 0))) break;
      await archive.sink.appendCheckpoint({ seq, line: fields.r ?? '' });
      archive.newestHeadLine = fields.r ?? '';
      archive.checkpointSeq = Math.max(archive.checkpointSeq, seq);
      lastId = id;
    }
    if (lastId) {
      await streams.hashSet(keys.meta, 'archivedCheckpointId', lastId);
      const [ms, n] = lastId.split('-');
      await streams.trimBefore(keys.checkpoints, `${ms}-${Number(n) + 1}`);
    }
  }

  /** Before archived records 1..through go: their frontier (from the last retention record and the records about to go) under a signed retention record. */
  async function signRetention(instance: string, archive: Archive, through: number): Promise<void> {
    const frontier = new MerkleFrontier({ size: archive.pruned.through, frontier: archive.pruned.frontier });
    let hash = '';
    for (let seq = archive.pruned.through + 1; seq <= through; seq += 500) {
      const wanted = Array.from({ length: Math.min(500, through - seq + 1) }, (_, i) => seq + i);
      const records = await archive.sink.read(wanted);
      if (records.length !== wanted.length) throw new AuditLogCorruptError(`archived records ${seq} to ${seq + wanted.length - 1} of instance ${instance} cannot be read back`);
      for (const record of records) {
        frontier.push(leafHash(canonicalJson(record)));
        hash = record.hash;
      }
    }
    const { line } = await signTreeHead(retentionRecord({ chain: archive.chainId, instance, through, hash, frontier: frontier.frontier(), time: new Date() }), options.sign!);
    await archive.sink.appendCheckpoint({ seq: through, line });
    archive.pruned = { through, frontier: frontier.frontier() };
  }

  async function round(): Promise<number> {
    if (!(await options.lease.tryHold())) {
      // Someone else archives now: let go of the directories so it can take them.
      await closeAll();
      return 0;
    }
    let total = 0;
    const instances = await streams.setMembers(AUDIT_INSTANCES_KEY);
    for (const instance of instances.sort()) {
      if (stopped) break;
      try {
        const archive = await archiveOf(instance);
        if (!archive) continue;
        total += await archiveRecords(instance, archive);
        await archiveCheckpoints(instance, archive);
        if (Date.now() - archive.lastRetention > 3_600_000) {
          archive.lastRetention = Date.now();
          await archive.sink.expire(new Date(Date.now() - retentionMs), options.sign ? (through) => signRetention(instance, archive, through) : undefined);
        }
      } catch (error) {
        emit({ type: 'archive-failed', instance, reason: (error as { code?: string })?.code ?? (error as Error)?.name ?? 'error' });
        // Re-read the archive's head next time: a failed write may have left it behind our memory.
        const broken = archives.get(instance);
        archives.delete(instance);
        await broken?.sink.close().catch(() => undefined);
      }
    }
    return total;
  }

  function runOnce(): Promise<number> {
    running ??= round()
      .catch(() => 0)
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  const tick = (): void => {
    if (stopped) return;
    void runOnce().then((n) => {
      if (stopped) return;
      timer = setTimeout(tick, n > 0 ? 0 : intervalMs);
      timer.unref();
    });
  };
  timer = setTimeout(tick, 0);
  timer.unref();

  return {
    runOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      await closeAll();
      await options.lease.release();
    },
  };
}
