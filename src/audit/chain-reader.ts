/**
 * Reads any instance's chain, whichever instance asks: the records Redis still holds
 * (`audit:{<instance>}:records`, entry id `<seq>-0`) and, below what the archiver trimmed, the
 * archived segment files under the archive root (`<root>/<instance>/`, or the directory of the
 * chain Redis names, see archiveDirOf). The shared index (pg-index.ts) uses it to read records
 * back for a query and to catch up from a chain. It never writes.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { seqOfEntryId, type RedisStreams } from '../state';
import { createFileSink } from './file-sink';
import type { AuditRecord } from './record';
import { archiveDirOf, auditStreamKeys, AUDIT_INSTANCES_KEY } from './redis-sink';
import type { AuditSink } from './sink';

/** Reads the records of every instance's chain. */
export interface ChainReader {
  /** The records of `instance` with these seqs, in the order given, leaving out those it cannot find (or that do not claim that instance and seq). */
  read(instance: string, seqs: readonly number[]): Promise<AuditRecord[]>;
  /** Up to `limit` consecutive records of `instance` from seq `from` on; fewer when the chain ends (or a record cannot be read) before. */
  range(instance: string, from: number, limit: number): Promise<AuditRecord[]>;
  /** The instance ids with a stream in Redis. */
  instances(): Promise<string[]>;
  close(): Promise<void>;
}

/** Options of `createChainReader`. */
export interface ChainReaderOptions {
  /** The shared state's stream commands (absent: archive files only). */
  streams?: RedisStreams;
  /** The archive root (`audit.dir`): `<root>/<instance>/` holds each chain's archived segments. */
  archiveRoot?: string;
}

function parse(line: string | undefined): AuditRecord | undefined {
  try {
    const record = JSON.parse(line ?? '') as AuditRecord;
    return record && typeof record === 'object' && Number.isSafeInteger(record.seq) ? record : undefined;
  } catch {
    return undefined;
  }
}

/** Creates a reader over the streams in Redis and the archive files. */
export function createChainReader(options: ChainReaderOptions): ChainReader {
  const { streams, archiveRoot } = options;
  const archives = new Map<string, { dir: string; sink: AuditSink; headSeq: number }>();

  async function archiveDir(instance: string): Promise<string | undefined> {
    if (!archiveRoot) return undefined;
    const chain = streams ? await streams.hashGet(auditStreamKeys(instance).meta, 'chain').catch(() => undefined) : undefined;
    return chain ? archiveDirOf(archiveRoot, instance, chain) : path.join(archiveRoot, instance);
  }

  const opening = new Map<string, Promise<unknown>>();

  /** The archived part of an instance's chain (one opening at a time per instance, so none is left open unseen). */
  async function archive(instance: string, upTo: number): Promise<{ dir: string; sink: AuditSink; headSeq: number } | undefined> {
    for (let busy = opening.get(instance); busy; busy = opening.get(instance)) await busy.catch(() => undefined);
    const opened = openArchive(instance, upTo);
    opening.set(instance, opened);
    try {
      return await opened;
    } finally {
      opening.delete(instance);
    }
  }

  /** Opens the archived part of an instance's chain read-only; again when asked for a seq past what it held. */
  async function openArchive(instance: string, upTo: number) {
    const dir = await archiveDir(instance);
    if (!dir) return undefined;
    const held = archives.get(instance);
    if (held && held.dir === dir && held.headSeq >= upTo) return held;
    if (held) {
      archives.delete(instance);
      await held.sink.close().catch(() => undefined);
    }
    if (!existsSync(path.join(dir, 'chain.json'))) return undefined;
    const sink = createFileSink({ dir, readOnly: true });
    try {
      const state = await sink.open({ chainId: '', instanceId: instance }, () => undefined);
      const opened = { dir, sink, headSeq: state.head?.seq ?? 0 };
      archives.set(instance, opened);
      return opened;
    } catch {
      await sink.close().catch(() => undefined);
      return undefined;
    }
  }

  const belongs = (instance: string, seq: number) => (r: AuditRecord | undefined): r is AuditRecord => r !== undefined && r.instance === instance && r.seq === seq;

  return {
    async read(instance, seqs) {
      const found = new Map<number, AuditRecord>();
      if (streams) {
        const { records } = auditStreamKeys(instance);
        const replies = await Promise.all(seqs.map((seq) => streams.range(records, `${seq}-0`, `${seq}-0`).catch(() => [])));
        replies.forEach((entries, i) => {
          const record = parse(entries[0]?.fields.r);
          if (belongs(instance, seqs[i]!)(record)) found.set(record.seq, record);
        });
      }
      const rest = seqs.filter((s) => !found.has(s));
      if (rest.length > 0) {
        const reader = await archive(instance, Math.max(...rest));
        if (reader) for (const record of await reader.sink.read(rest)) if (belongs(instance, record.seq)(record)) found.set(record.seq, record);
      }
      return seqs.filter((s) => found.has(s)).map((s) => found.get(s)!);
    },

    async range(instance, from, limit) {
      const out: AuditRecord[] = [];
      let next = from;
      let fromStream: AuditRecord[] = [];
      if (streams) {
        const entries = await streams.range(auditStreamKeys(instance).records, `${from}-0`, '+', limit);
        for (const entry of entries) {
          const record = parse(entry.fields.r);
          if (!belongs(instance, seqOfEntryId(entry.id))(record)) break;
          fromStream.push(record);
        }
        // What Redis no longer holds below its first entry was archived (and trimmed).
        if (fromStream.length > 0 && fromStream[0]!.seq !== from) {
          const below = fromStream[0]!.seq;
          const reader = await archive(instance, below - 1);
          if (!reader) return out;
          const wanted = Array.from({ length: Math.min(limit, below - from) }, (_, i) => from + i);
          for (const record of await reader.sink.read(wanted)) {
            if (record.seq !== next || !belongs(instance, next)(record)) return out;
            out.push(record);
            next++;
          }
          if (next !== below) return out;
        }
      }
      if (fromStream.length === 0) {
        const reader = await archive(instance, from + limit - 1);
        if (reader && reader.headSeq >= from) {
          const wanted = Array.from({ length: Math.min(limit, reader.headSeq - from + 1) }, (_, i) => from + i);
          fromStream = await reader.sink.read(wanted);
        }
      }
      for (const record of fromStream) {
        if (out.length >= limit || record.seq !== next || !belongs(instance, next)(record)) break;
        out.push(record);
        next++;
      }
      return out;
    },

    async instances() {
      return streams ? (await streams.setMembers(AUDIT_INSTANCES_KEY)).sort() : [];
    },

    async close() {
      const held = [...archives.values()];
      archives.clear();
      await Promise.all(held.map((a) => a.sink.close().catch(() => undefined)));
    },
  };
}
