/**
 * `datarun audit verify` and `datarun audit export`: the command implementations as plain
 * functions (main.ts wires them into commander). Signing and verifying are injected: the caller
 * builds them from the hub's keys (the seal module), so this file never sees key material.
 */
import {
  exportAllAuditRecords,
  exportAuditRecords,
  verifyAllAuditLogs,
  verifyAuditLog,
  type AuditSignatureVerifier,
  type AuditSigner,
  type AuditVerifyProgress,
  type AuditVerifyReport,
  type ExportAuditRecordsResult,
  type MergedExportManifest,
  type SubjectKind,
  type SubjectRef,
  AuditOptionsError,
} from '../audit';
import path from 'node:path';
import { CLI_EXIT } from '../sdk';

/** Where a command writes: stdout for results, stderr for progress. */
export interface CommandOutput {
  stdout?: { write(text: string): unknown };
  stderr?: { write(text: string): unknown; isTTY?: boolean };
}

/** Arguments of `datarun audit verify`. */
export interface AuditVerifyCommandOptions extends CommandOutput {
  /** The log directory. */
  dir: string;
  /** First seq to verify (`--from`). */
  from?: number | string;
  /** Last seq to verify (`--to`). */
  to?: number | string;
  /** Verifies checkpoint JWS against the hub's JWKS (built by the caller from `--jwks` or keys/). */
  verify: AuditSignatureVerifier;
  /** `dir` is an archive root: verify every instance's chain under it, each on its own (`--all`). */
  all?: boolean;
}

/** Arguments of `datarun audit export`. */
export interface AuditExportCommandOptions extends CommandOutput {
  dir: string;
  consumer?: string;
  /** `KIND:id` (`ENTERPRISE:9137…`), or a bare citizen identity number. */
  subject?: string;
  case?: string;
  /** ISO 8601 date-times. */
  from?: string;
  to?: string;
  format: 'jsonl' | 'csv';
  out: string;
  /** Signs the manifest with the hub key. */
  sign: AuditSigner;
  /** The hub's subject-key secret (needed for `--subject`). */
  subjectKeySecret: Uint8Array | string;
}

function seqArgument(value: number | string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new AuditOptionsError(name, 'a sequence number of at least 1');
  return n;
}

function timeArgument(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (Number.isNaN(Date.parse(value))) throw new AuditOptionsError(name, 'an ISO 8601 date-time');
  return value;
}

function subjectArgument(value: string | undefined): SubjectRef | undefined {
  if (value === undefined) return undefined;
  const m = /^(PERSON|ENTERPRISE|PROPERTY):(.+)$/.exec(value);
  const ref = m ? { kind: m[1] as SubjectKind, id: m[2]! } : { kind: 'PERSON' as const, id: value };
  if (ref.id.trim().length === 0) throw new AuditOptionsError('subject', 'KIND:id or a citizen identity number');
  return ref;
}

function progressPrinter(stderr: CommandOutput['stderr']): (p: AuditVerifyProgress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    const done = p.bytes >= p.totalBytes;
    // At most four lines a second: the count matters to the operator, not every step.
    if (!stderr || (!done && now - last < 250)) return;
    last = now;
    const pct = p.totalBytes > 0 ? Math.floor((100 * p.bytes) / p.totalBytes) : 100;
    const text = `audit verify: ${p.records} records checked (${pct}%)`;
    stderr.write(stderr.isTTY ? `\r${text}${done ? '\n' : ''}` : `${text}\n`);
  };
}

/** Verifies a log directory, prints the outcome, and returns the exit code (0 valid, 6 a problem found: CLI_EXIT.VERIFY_FAILED) with the report. */
export async function runAuditVerify(options: AuditVerifyCommandOptions): Promise<{ exitCode: number; report: AuditVerifyReport }> {
  if (options.all) return runAuditVerifyAll(options);
  const from = seqArgument(options.from, 'from');
  const to = seqArgument(options.to, 'to');
  if (from !== undefined && to !== undefined && to < from) throw new AuditOptionsError('to', 'at least --from');
  const report = await verifyAuditLog({ dir: options.dir, from, to, verify: options.verify, onProgress: progressPrinter(options.stderr) });
  const out = options.stdout ?? process.stdout;
  const range = report.firstSeq === null ? 'no records' : `${report.records} records (seq ${report.firstSeq} to ${report.lastSeq})`;
  if (report.ok) out.write(`audit log ${options.dir}: valid, ${range}, ${report.checkpoints} checkpoint signature${report.checkpoints === 1 ? '' : 's'} verified\n`);
  else out.write(`audit log ${options.dir}: INVALID: ${report.problem!.kind}: ${report.problem!.message}\n`);
  for (const note of report.notes) out.write(`note: ${note}\n`);
  return { exitCode: report.ok ? CLI_EXIT.OK : CLI_EXIT.VERIFY_FAILED, report };
}

/**
 * `--all`: every instance's chain under the archive root, each verified on its own; valid only
 * when there is at least one chain and every chain is valid. The report returned is the first
 * invalid chain's (or the last one's).
 */
async function runAuditVerifyAll(options: AuditVerifyCommandOptions): Promise<{ exitCode: number; report: AuditVerifyReport }> {
  if (options.from !== undefined || options.to !== undefined) throw new AuditOptionsError(options.from !== undefined ? 'from' : 'to', 'not given with --all (sequence numbers are per chain)');
  const print = progressPrinter(options.stderr);
  const all = await verifyAllAuditLogs({ root: options.dir, verify: options.verify, onProgress: (_dir, p) => print(p) });
  const out = options.stdout ?? process.stdout;
  for (const { dir, report } of all.chains) {
    const range = report.firstSeq === null ? 'no records' : `${report.records} records (seq ${report.firstSeq} to ${report.lastSeq})`;
    if (report.ok) out.write(`audit log ${dir}: valid, ${range}, ${report.checkpoints} checkpoint signature${report.checkpoints === 1 ? '' : 's'} verified\n`);
    else out.write(`audit log ${dir}: INVALID: ${report.problem!.kind}: ${report.problem!.message}\n`);
    for (const note of report.notes) out.write(`note: ${path.basename(dir)}: ${note}\n`);
  }
  const bad = all.chains.filter((c) => !c.report.ok);
  if (all.chains.length === 0) out.write(`audit logs under ${options.dir}: INVALID: no chain found\n`);
  else out.write(`audit logs under ${options.dir}: ${all.ok ? 'valid' : 'INVALID'}, ${all.chains.length} chain${all.chains.length === 1 ? '' : 's'}${bad.length > 0 ? `, ${bad.length} invalid: ${bad.map((c) => path.basename(c.dir)).join(', ')}` : ''}\n`);
  const report: AuditVerifyReport = bad[0]?.report ??
    all.chains[all.chains.length - 1]?.report ?? {
      ok: false, chainId: null, firstSeq: null, lastSeq: null, records: 0, checkpoints: 0, signedThrough: 0,
      problem: { kind: 'MISSING_CHAIN', seq: 0, message: `no chain under ${options.dir}` },
      notes: [],
    };
  return { exitCode: all.ok ? CLI_EXIT.OK : CLI_EXIT.VERIFY_FAILED, report };
}

function exportFilter(options: AuditExportCommandOptions) {
  const subject = subjectArgument(options.subject);
  const from = timeArgument(options.from, 'from');
  const to = timeArgument(options.to, 'to');
  const filter = {
    ...(options.consumer !== undefined ? { consumer: options.consumer } : {}),
    ...(subject ? { subject } : {}),
    ...(options.case !== undefined ? { caseNumber: options.case } : {}),
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
  };
  return filter;
}

/** Exports matching records and a signed manifest, prints where, and returns the exit code with the result. */
export async function runAuditExport(options: AuditExportCommandOptions): Promise<{ exitCode: number; result: ExportAuditRecordsResult }> {
  const filter = exportFilter(options);
  const result = await exportAuditRecords({ dir: options.dir, filter, format: options.format, out: options.out, sign: options.sign, subjectKeySecret: options.subjectKeySecret });
  const out = options.stdout ?? process.stdout;
  const { manifest } = result;
  const range = manifest.count === 0 ? '' : ` (seq ${manifest.firstSeq} to ${manifest.lastSeq})`;
  out.write(`exported ${manifest.count} records${range} to ${options.out}; signed manifest ${result.manifestPath}\n`);
  return { exitCode: CLI_EXIT.OK, result };
}

/** `--all`: exports the matching records of every instance's chain under the archive root `dir`, merged by time, with one signed manifest naming each chain. */
export async function runAuditExportAll(options: AuditExportCommandOptions): Promise<{ exitCode: number; result: { manifest: MergedExportManifest; manifestPath: string } }> {
  const result = await exportAllAuditRecords({ root: options.dir, filter: exportFilter(options), format: options.format, out: options.out, sign: options.sign, subjectKeySecret: options.subjectKeySecret });
  const out = options.stdout ?? process.stdout;
  const { manifest } = result;
  const chains = manifest.chains.map((c) => `${c.dir}: ${c.count}`).join(', ');
  out.write(`exported ${manifest.count} records of ${manifest.chains.length} chain${manifest.chains.length === 1 ? '' : 's'} (${chains}), merged by time, to ${options.out}; signed manifest ${result.manifestPath}\n`);
  return { exitCode: CLI_EXIT.OK, result };
}
