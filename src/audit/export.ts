/**
 * Export of matching records for an auditor: a JSON-lines or CSV file plus a signed manifest
 * (count, seq range, SHA-256 of the file, the filter, the time), so that the recipient can prove
 * the file is what the hub exported.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { openAuditLogReader, type AccessLogFilter } from './audit-log';
import { canonicalJson } from './canonical-json';
import { payloadValue, type AuditSignatureVerifier, type AuditSigner } from './checkpoint';
import { verifyAuditLog } from './verify';
import { AuditExportError, AuditOptionsError } from './errors';
import { AUDIT_FORMAT, type AuditRecord, type SubjectRef } from './record';

/** The `typ` of an export manifest. */
export const EXPORT_MANIFEST_TYPE = `${AUDIT_FORMAT} export`;

/** What to export and where. */
export interface ExportAuditRecordsOptions {
  /** The log directory. */
  dir: string;
  /** Which records: all conditions must hold. */
  filter: Pick<AccessLogFilter, 'consumer' | 'subject' | 'caseNumber' | 'from' | 'to'>;
  format: 'jsonl' | 'csv';
  /** The export file; must not exist yet. The manifest goes next to it as `<out>.manifest.json`. */
  out: string;
  /** Signs the manifest (the seal module's hub key). */
  sign: AuditSigner;
  /** Verifies the log's heads: the whole log is verified before anything is exported. */
  verify: AuditSignatureVerifier;
  /** A head kept outside the log to check it against as well (see `verifyAuditLog`). */
  head?: string;
  /** The hub's subject-key secret; needed to find a subject by identifier. */
  subjectKeySecret: Uint8Array | string;
  /** @default () => new Date() */
  now?: () => Date;
}

/** What the signed manifest states. */
export interface ExportManifest {
  typ: typeof EXPORT_MANIFEST_TYPE;
  chain: string;
  file: string;
  format: 'jsonl' | 'csv';
  count: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** SHA-256 of the export file's bytes, hex. */
  sha256: string;
  /** The filter, with a subject in its stored form (key and mask), never the identifier. */
  filter: Record<string, unknown>;
  time: string;
  /** The newest signed tree head the log was verified against before export (records after it are not exported). */
  head: { instance: string; size: number; root: string; time: string; jws: string } | null;
  /** The last seq of the verified log: records after it (written during the export) are left for the next export. */
  verifiedThrough: number;
}

/** Signs a manifest and writes `{ manifest, jws }` durably to a file that must not exist yet. */
export async function writeSignedManifest(manifestPath: string, manifest: object, sign: AuditSigner): Promise<void> {
  const jws = await sign(canonicalJson(manifest));
  const manifestFile = await open(manifestPath, 'wx', 0o640).catch((error: NodeJS.ErrnoException) => {
    throw new AuditExportError(`cannot create ${manifestPath} (${error.code ?? 'error'}); it must not exist yet`, error);
  });
  try {
    await manifestFile.write(JSON.stringify({ manifest, jws }, null, 2) + '\n');
    await manifestFile.sync();
  } finally {
    await manifestFile.close();
  }
}

/** The result of an export. */
export interface ExportAuditRecordsResult {
  manifest: ExportManifest;
  /** Where the manifest was written. */
  manifestPath: string;
}

/** The CSV columns, in order; the record format's later fields come last (empty for version 1 records, `count` and the window for records that are not aggregates, the federation columns for requests within the hub). */
export const CSV_COLUMNS = [
  'seq', 'time', 'instance', 'requestId', 'consumer', 'operator', 'purpose', 'caseNumber', 'operationName', 'operationHash',
  'subjects', 'subjectKeys', 'fields', 'outcome', 'errorCodes', 'replyHash', 'receiptId', 'hash',
  'v', 'correlationId', 'source', 'hashed', 'count', 'windowFrom', 'windowTo',
  'federationRequestId', 'onBehalfOfHub', 'onBehalfOfConsumer', 'onBehalfOfRequest',
] as const;

// RFC 4180 quoting; a cell starting with = + - @ or a tab is prefixed with ' so that a spreadsheet shows it instead of running it (OWASP CSV injection).
function csvCell(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(r: AuditRecord): string {
  const cells: Record<(typeof CSV_COLUMNS)[number], string | number | null> = {
    seq: r.seq,
    time: r.time,
    instance: r.instance,
    requestId: r.requestId,
    consumer: r.consumer,
    operator: r.operator,
    purpose: r.purpose,
    caseNumber: r.caseNumber,
    operationName: r.operationName,
    operationHash: r.operationHash,
    subjects: r.subjects.map((s) => `${s.kind}:${s.mask}`).join(';'),
    subjectKeys: r.subjects.map((s) => s.key).join(';'),
    fields: Object.entries(r.fields).map(([d, coords]) => `${d}:${coords.join('|')}`).join(';'),
    outcome: r.outcome,
    errorCodes: r.errorCodes.join(';'),
    replyHash: r.replyHash,
    receiptId: r.receiptId,
    hash: r.hash,
    v: r.v,
    correlationId: r.correlationId ?? null,
    source: r.source ?? null,
    hashed: (r.hashed ?? []).join(';'),
    count: r.count ?? null,
    windowFrom: r.window?.from ?? null,
    windowTo: r.window?.to ?? null,
    federationRequestId: r.federationRequestId ?? null,
    onBehalfOfHub: r.onBehalfOf?.hub ?? null,
    onBehalfOfConsumer: r.onBehalfOf?.consumer ?? null,
    onBehalfOfRequest: r.onBehalfOf?.request ?? null,
  };
  return CSV_COLUMNS.map((c) => csvCell(cells[c])).join(',') + '\r\n';
}

/** Writes the records matching a filter (oldest first) and a signed manifest of the file. */
export async function exportAuditRecords(options: ExportAuditRecordsOptions): Promise<ExportAuditRecordsResult> {
  if (options.format !== 'jsonl' && options.format !== 'csv') throw new AuditOptionsError('format', '"jsonl" or "csv"');
  if (typeof options.out !== 'string' || options.out.length === 0) throw new AuditOptionsError('out', 'a file path');
  if (typeof options.sign !== 'function') throw new AuditOptionsError('sign', 'a function returning a compact JWS');
  if (typeof options.verify !== 'function') throw new AuditOptionsError('verify', 'a function that checks a compact JWS');
  const now = options.now ?? (() => new Date());
  const filter = options.filter ?? {};
  // Nothing is exported from a log that does not verify, and nothing beyond what was verified.
  const report = await verifyAuditLog({ dir: options.dir, verify: options.verify, ...(options.head !== undefined ? { head: options.head } : {}) });
  if (!report.ok) throw new AuditExportError(`the log does not verify (${report.problem!.kind} at seq ${report.problem!.seq}: ${report.problem!.message}); nothing was exported`);
  const verifiedThrough = report.lastSeq ?? 0;
  const reader = await openAuditLogReader({ dir: options.dir, subjectKeySecret: options.subjectKeySecret });
  const manifestPath = `${options.out}.manifest.json`;
  try {
    let file;
    try {
      file = await open(options.out, 'wx', 0o640);
    } catch (error) {
      throw new AuditExportError(`cannot create ${options.out} (${(error as NodeJS.ErrnoException).code ?? 'error'}); it must not exist yet`, error);
    }
    const hash = createHash('sha256');
    let count = 0;
    let firstSeq: number | null = null;
    let lastSeq: number | null = null;
    try {
      let chunk: string[] = [];
      const flush = async () => {
        const data = Buffer.from(chunk.join(''), 'utf8');
        chunk = [];
        hash.update(data);
        await file.write(data);
      };
      if (options.format === 'csv') chunk.push(CSV_COLUMNS.join(',') + '\r\n');
      for await (const record of reader.records(filter)) {
        if (record.seq > verifiedThrough) break;
        chunk.push(options.format === 'csv' ? csvRow(record) : canonicalJson(record) + '\n');
        count++;
        firstSeq ??= record.seq;
        lastSeq = record.seq;
        if (chunk.length >= 1000) await flush();
      }
      await flush();
      await file.sync();
    } finally {
      await file.close();
    }
    const storedFilter: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(filter)) {
      if (value === undefined) continue;
      if (key === 'subject') storedFilter.subject = reader.subjectOf(value as SubjectRef);
      else storedFilter[key] = value instanceof Date ? value.toISOString() : value;
    }
    const manifest: ExportManifest = {
      typ: EXPORT_MANIFEST_TYPE,
      chain: reader.chainId,
      file: path.basename(options.out),
      format: options.format,
      count,
      firstSeq,
      lastSeq,
      sha256: hash.digest('hex'),
      filter: storedFilter,
      time: now().toISOString(),
      head: headOf(reader.treeHead(), report.newestHead?.size),
      verifiedThrough,
    };
    await writeSignedManifest(manifestPath, manifest, options.sign);
    return { manifest, manifestPath };
  } finally {
    await reader.close();
  }
}

/** The newest head the reader found, when it is the one verification checked. */
function headOf(signed: { head: { instance: string; size: number; root: string; time: string }; jws: string } | null, verifiedSize: number | undefined): ExportManifest['head'] {
  if (!signed || verifiedSize === undefined || signed.head.size !== verifiedSize) return null;
  const { instance, size, root, time } = signed.head;
  return { instance, size, root, time, jws: signed.jws };
}

/** The outcome of checking an export against its manifest. */
export interface ExportCheck {
  ok: boolean;
  manifest: ExportManifest | null;
  /** What is wrong, for people; null when valid. */
  problem: string | null;
}

/**
 * Checks an export offline: the manifest's signature, the file's SHA-256, the count and seq range
 * of its records, each JSON-lines record in canonical form and in ascending seq order, and the
 * head the manifest names (its signature, and that it is the manifest's chain).
 */
export async function verifyAuditExport(options: { file: string; verify: AuditSignatureVerifier; manifestPath?: string }): Promise<ExportCheck> {
  const { readFile } = await import('node:fs/promises');
  const manifestPath = options.manifestPath ?? `${options.file}.manifest.json`;
  const fail = (problem: string, manifest: ExportManifest | null = null): ExportCheck => ({ ok: false, manifest, problem });
  let stored: { manifest?: unknown; jws?: unknown };
  try {
    stored = JSON.parse(await readFile(manifestPath, 'utf8')) as typeof stored;
  } catch (error) {
    return fail(`the manifest ${manifestPath} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'not JSON'})`);
  }
  if (typeof stored.jws !== 'string') return fail('the manifest carries no signature');
  let check;
  try {
    check = await options.verify(stored.jws);
  } catch {
    check = { valid: false };
  }
  if (!check?.valid) return fail('the manifest\'s signature does not verify with the hub\'s keys');
  const manifest = payloadValue(check.payload, stored.jws) as ExportManifest | undefined;
  if (!manifest || manifest.typ !== EXPORT_MANIFEST_TYPE) return fail('the signed manifest is not an export manifest');
  if (canonicalJson(manifest) !== canonicalJson(stored.manifest ?? null)) return fail('the manifest in clear differs from what was signed', manifest);
  let bytes: Buffer;
  try {
    bytes = await readFile(options.file);
  } catch (error) {
    return fail(`the export ${options.file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, manifest);
  }
  if (createHash('sha256').update(bytes).digest('hex') !== manifest.sha256) return fail('the export\'s SHA-256 differs from the manifest: the file was changed', manifest);
  const text = bytes.toString('utf8');
  const rows = manifest.format === 'csv' ? text.split('\r\n').slice(1, -1) : text.split('\n').slice(0, -1);
  if (rows.length !== manifest.count) return fail(`the export holds ${rows.length} records, the manifest says ${manifest.count}`, manifest);
  if (manifest.format === 'jsonl') {
    let previous = 0;
    for (const [i, row] of rows.entries()) {
      let record: AuditRecord;
      try {
        record = JSON.parse(row) as AuditRecord;
      } catch {
        return fail(`line ${i + 1} of the export is not JSON`, manifest);
      }
      if (canonicalJson(record) !== row) return fail(`line ${i + 1} of the export is not a canonical record`, manifest);
      if (record.seq <= previous) return fail(`line ${i + 1} of the export is out of order (seq ${record.seq} after ${previous})`, manifest);
      previous = record.seq;
    }
    const first = rows.length > 0 ? (JSON.parse(rows[0]!) as AuditRecord).seq : null;
    if (first !== manifest.firstSeq || (rows.length > 0 ? previous : null) !== manifest.lastSeq) return fail('the export\'s seq range differs from the manifest', manifest);
  }
  if (manifest.head) {
    let headCheck;
    try {
      headCheck = await options.verify(manifest.head.jws);
    } catch {
      headCheck = { valid: false };
    }
    const head = headCheck?.valid ? (payloadValue(headCheck.payload, manifest.head.jws) as { chain?: string; size?: number; root?: string }) : undefined;
    if (!head || head.chain !== manifest.chain || head.size !== manifest.head.size || head.root !== manifest.head.root) return fail('the tree head the manifest names does not verify or is not of its chain', manifest);
  }
  return { ok: true, manifest, problem: null };
}
