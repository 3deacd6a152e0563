/**
 * Verification and export over every instance's chain under an archive root (`audit.dir` of
 * several instances: `<root>/<instance>/`, and `<root>/<instance>.<hash>/` for a chain started
 * anew after Redis lost an instance's stream). Each chain is verified on its own (chains are
 * per instance, never one global chain); an export merges the matching records of all chains
 * by time (then instance, then seq) into one file with one signed manifest naming each chain.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { openAuditLogReader, type AccessLogFilter, type AuditLogReader } from './audit-log';
import { canonicalJson } from './canonical-json';
import type { AuditSignatureVerifier, AuditSigner } from './checkpoint';
import { AuditExportError, AuditOptionsError } from './errors';
import { CSV_COLUMNS, csvRow, EXPORT_MANIFEST_TYPE, writeSignedManifest } from './export';
import type { AuditRecord, SubjectRef } from './record';
import { verifyAuditLog, type AuditVerifyProgress, type AuditVerifyReport } from './verify';

/** The chain directories under an archive root (those holding a `chain.json`), sorted by name; the root itself when it is one chain's directory. */
export function findChainDirs(root: string): string[] {
  if (existsSync(path.join(root, 'chain.json'))) return [root];
  let names: string[];
  try {
    names = readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch (error) {
    throw new AuditOptionsError('dir', `a readable archive root (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return names
    .sort()
    .map((name) => path.join(root, name))
    .filter((dir) => existsSync(path.join(dir, 'chain.json')));
}

/** The verification of every chain under a root. */
export interface AllAuditLogsReport {
  /** True when at least one chain was found and every chain verifies. */
  ok: boolean;
  chains: Array<{ dir: string; report: AuditVerifyReport }>;
}

/** Verifies every chain under `root`, each on its own. */
export async function verifyAllAuditLogs(options: { root: string; verify: AuditSignatureVerifier; onProgress?: (dir: string, progress: AuditVerifyProgress) => void }): Promise<AllAuditLogsReport> {
  const chains: AllAuditLogsReport['chains'] = [];
  for (const dir of findChainDirs(options.root)) {
    const report = await verifyAuditLog({ dir, verify: options.verify, ...(options.onProgress ? { onProgress: (p) => options.onProgress!(dir, p) } : {}) });
    chains.push({ dir, report });
  }
  return { ok: chains.length > 0 && chains.every((c) => c.report.ok), chains };
}

/** What the signed manifest of a merged export states. */
export interface MergedExportManifest {
  typ: typeof EXPORT_MANIFEST_TYPE;
  /** Every chain read, with the records taken from it. */
  chains: Array<{ dir: string; chain: string; count: number; firstSeq: number | null; lastSeq: number | null }>;
  file: string;
  format: 'jsonl' | 'csv';
  count: number;
  /** SHA-256 of the export file's bytes, hex. */
  sha256: string;
  filter: Record<string, unknown>;
  /** The order of the records: by time, then instance, then seq. */
  order: 'time,instance,seq';
  time: string;
}

/** Options of `exportAllAuditRecords`. */
export interface ExportAllAuditRecordsOptions {
  /** The archive root. */
  root: string;
  filter: Pick<AccessLogFilter, 'consumer' | 'subject' | 'caseNumber' | 'from' | 'to'>;
  format: 'jsonl' | 'csv';
  /** Must not exist yet; the manifest goes to `<out>.manifest.json`. */
  out: string;
  sign: AuditSigner;
  /** Every chain is verified before anything is exported. */
  verify: AuditSignatureVerifier;
  subjectKeySecret: Uint8Array | string;
  now?: () => Date;
}

const before = (a: AuditRecord, b: AuditRecord): boolean => {
  const ta = Date.parse(a.time);
  const tb = Date.parse(b.time);
  if (ta !== tb) return ta < tb;
  if (a.instance !== b.instance) return a.instance < b.instance;
  return a.seq < b.seq;
};

/** Writes the matching records of every chain under `root`, merged by time, and a signed manifest. */
export async function exportAllAuditRecords(options: ExportAllAuditRecordsOptions): Promise<{ manifest: MergedExportManifest; manifestPath: string }> {
  if (options.format !== 'jsonl' && options.format !== 'csv') throw new AuditOptionsError('format', '"jsonl" or "csv"');
  if (typeof options.out !== 'string' || options.out.length === 0) throw new AuditOptionsError('out', 'a file path');
  if (typeof options.sign !== 'function') throw new AuditOptionsError('sign', 'a function returning a compact JWS');
  const dirs = findChainDirs(options.root);
  if (dirs.length === 0) throw new AuditOptionsError('dir', `an archive root holding at least one chain (none under ${options.root})`);
  const filter = options.filter ?? {};
  const now = options.now ?? (() => new Date());
  const manifestPath = `${options.out}.manifest.json`;
  // Nothing is exported unless every chain verifies, and nothing beyond what was verified.
  const verifiedThrough: number[] = [];
  for (const dir of dirs) {
    const report = await verifyAuditLog({ dir, verify: options.verify });
    if (!report.ok) throw new AuditExportError(`the chain in ${dir} does not verify (${report.problem!.kind} at seq ${report.problem!.seq}: ${report.problem!.message}); nothing was exported`);
    verifiedThrough.push(report.lastSeq ?? 0);
  }
  const readers: AuditLogReader[] = [];
  try {
    for (const dir of dirs) readers.push(await openAuditLogReader({ dir, subjectKeySecret: options.subjectKeySecret }));
    // Each chain is in time order already (times never decrease along a chain): a k-way merge.
    const upTo = async function* (records: AsyncIterable<AuditRecord>, last: number): AsyncGenerator<AuditRecord> {
      for await (const record of records) {
        if (record.seq > last) return;
        yield record;
      }
    };
    const sources = readers.map((reader, i) => upTo(reader.records(filter), verifiedThrough[i]!)[Symbol.asyncIterator]());
    const heads: Array<AuditRecord | undefined> = await Promise.all(sources.map(async (s) => (await s.next()).value as AuditRecord | undefined));
    const stats = dirs.map((dir, i) => ({ dir: path.basename(dir), chain: readers[i]!.chainId, count: 0, firstSeq: null as number | null, lastSeq: null as number | null }));
    let file;
    try {
      file = await open(options.out, 'wx', 0o640);
    } catch (error) {
      throw new AuditExportError(`cannot create ${options.out} (${(error as NodeJS.ErrnoException).code ?? 'error'}); it must not exist yet`, error);
    }
    const hash = createHash('sha256');
    let count = 0;
    try {
      let chunk: string[] = options.format === 'csv' ? [CSV_COLUMNS.join(',') + '\r\n'] : [];
      const flush = async () => {
        const data = Buffer.from(chunk.join(''), 'utf8');
        chunk = [];
        hash.update(data);
        await file.write(data);
      };
      for (;;) {
        let next = -1;
        heads.forEach((record, i) => {
          if (record && (next < 0 || before(record, heads[next]!))) next = i;
        });
        if (next < 0) break;
        const record = heads[next]!;
        chunk.push(options.format === 'csv' ? csvRow(record) : canonicalJson(record) + '\n');
        count++;
        const s = stats[next]!;
        s.count++;
        s.firstSeq ??= record.seq;
        s.lastSeq = record.seq;
        if (chunk.length >= 1000) await flush();
        heads[next] = (await sources[next]!.next()).value as AuditRecord | undefined;
      }
      await flush();
      await file.sync();
    } finally {
      await file.close();
    }
    const storedFilter: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(filter)) {
      if (value === undefined) continue;
      if (key === 'subject') storedFilter.subject = readers[0]!.subjectOf(value as SubjectRef);
      else storedFilter[key] = value instanceof Date ? value.toISOString() : value;
    }
    const manifest: MergedExportManifest = {
      typ: EXPORT_MANIFEST_TYPE,
      chains: stats,
      file: path.basename(options.out),
      format: options.format,
      count,
      sha256: hash.digest('hex'),
      filter: storedFilter,
      order: 'time,instance,seq',
      time: now().toISOString(),
    };
    await writeSignedManifest(manifestPath, manifest, options.sign);
    return { manifest, manifestPath };
  } finally {
    await Promise.all(readers.map((r) => r.close().catch(() => undefined)));
  }
}
