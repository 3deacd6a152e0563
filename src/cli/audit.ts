/**
 * `datarun audit verify`, `export`, `verify-export`, `prove` and `consistency`: the command
 * implementations as plain functions (main.ts wires them into commander). Signing and verifying
 * are injected: the caller builds them from the hub's keys (the seal module), so this file never
 * sees key material.
 */
import {
  exportAllAuditRecords,
  exportAuditRecords,
  openAuditLogReader,
  verifyAuditExport,
  verifyAllAuditLogs,
  verifyAuditLog,
  verifyConsistency,
  verifyInclusion,
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
import { CLI_EXIT, citizenIdProblem, creditCodeProblem, parseDateTime, unitNumberProblem } from '../sdk';

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
  /** A signed head kept outside the log (`--head`, or the keys directory's copy): its line or its JWS. */
  head?: string;
  /** Where the head came from, for the output. */
  headSource?: string;
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
  /** Verifies the log before export. */
  verify: AuditSignatureVerifier;
  head?: string;
}

function seqArgument(value: number | string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new AuditOptionsError(name, 'a sequence number of at least 1');
  return n;
}

function timeArgument(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (parseDateTime(value) === undefined) throw new AuditOptionsError(name, `an RFC 3339 date-time with its time zone, such as 2026-12-02T00:00:00Z, but got: ${JSON.stringify(value)}`);
  return value;
}

/** The identifier check of each kind of subject: a malformed one names no one, so it is refused rather than exported as nothing. */
const SUBJECT_CHECKS: Readonly<Record<SubjectKind, (id: string) => string | undefined>> = {
  PERSON: citizenIdProblem,
  ENTERPRISE: creditCodeProblem,
  PROPERTY: unitNumberProblem,
};

function subjectArgument(value: string | undefined): SubjectRef | undefined {
  if (value === undefined) return undefined;
  const m = /^(PERSON|ENTERPRISE|PROPERTY):(.+)$/.exec(value);
  const ref = m ? { kind: m[1] as SubjectKind, id: m[2]! } : { kind: 'PERSON' as const, id: value };
  if (ref.id.trim().length === 0) throw new AuditOptionsError('subject', 'KIND:id or a citizen identity number');
  const problem = SUBJECT_CHECKS[ref.kind](ref.id);
  if (problem) throw new AuditOptionsError('subject', `a valid ${ref.kind === 'PERSON' ? 'citizen identity number' : ref.kind === 'ENTERPRISE' ? 'unified social credit code' : 'property unit number'} (${problem})`);
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
  const report = await verifyAuditLog({ dir: options.dir, from, to, verify: options.verify, onProgress: progressPrinter(options.stderr), ...(options.head !== undefined ? { head: options.head } : {}) });
  const out = options.stdout ?? process.stdout;
  const range = report.firstSeq === null ? 'no records' : `${report.records} records (seq ${report.firstSeq} to ${report.lastSeq})`;
  if (report.ok) {
    out.write(`audit log ${options.dir}: valid, ${range}, ${report.checkpoints} signature${report.checkpoints === 1 ? '' : 's'} verified\n`);
    if (report.newestHead) out.write(`newest signed tree head: instance ${report.newestHead.instance}, size ${report.newestHead.size}, root ${report.newestHead.root}, signed ${report.newestHead.time}\n`);
    if (report.checkedAgainst) out.write(`agrees with the head ${options.headSource ? `from ${options.headSource} ` : ''}of size ${report.checkedAgainst.size} signed ${report.checkedAgainst.time}\n`);
    out.write(report.unsigned ? `unsigned window: records ${report.unsigned.from} to ${report.unsigned.to} (${Math.round(report.unsigned.spanMs)} ms)\n` : 'unsigned window: none, every record is under a signed head\n');
  } else {
    const p = report.problem!;
    const where = p.range ? ` (records ${p.range.from} to ${p.range.to})` : p.seq > 0 ? ` (first bad seq ${p.seq})` : '';
    out.write(`audit log ${options.dir}: INVALID: ${p.kind}${where}: ${p.message}\n`);
  }
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
    if (report.ok) out.write(`audit log ${dir}: valid, ${range}, ${report.checkpoints} signature${report.checkpoints === 1 ? '' : 's'} verified${report.unsigned ? `, records ${report.unsigned.from} to ${report.unsigned.to} not yet under a signed head` : ''}\n`);
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
      notes: [], heads: 0, newestHead: null, unsigned: null, checkedAgainst: null,
    };
  return { exitCode: all.ok ? CLI_EXIT.OK : CLI_EXIT.VERIFY_FAILED, report };
}

/** Checks the filter arguments of an export (a malformed subject or time) before anything is read or loaded. */
export function checkExportArguments(options: Pick<AuditExportCommandOptions, 'subject' | 'from' | 'to'>): void {
  subjectArgument(options.subject);
  timeArgument(options.from, 'from');
  timeArgument(options.to, 'to');
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
  const result = await exportAuditRecords({ dir: options.dir, filter, format: options.format, out: options.out, sign: options.sign, verify: options.verify, subjectKeySecret: options.subjectKeySecret, ...(options.head !== undefined ? { head: options.head } : {}) });
  const out = options.stdout ?? process.stdout;
  const { manifest } = result;
  const range = manifest.count === 0 ? '' : ` (seq ${manifest.firstSeq} to ${manifest.lastSeq})`;
  out.write(`exported ${manifest.count} records${range} to ${options.out}; signed manifest ${result.manifestPath}\n`);
  // A well-formed identifier no record names: say so, rather than leave an empty file to explain itself.
  if (manifest.count === 0 && filter.subject) out.write(`no access record names ${filter.subject.kind}:${filter.subject.id}: no request about this subject was recorded in this log (no department was asked about it through the hub)\n`);
  if (manifest.head) out.write(`the log was verified first, against its signed tree head of size ${manifest.head.size} (${manifest.head.time})\n`);
  return { exitCode: CLI_EXIT.OK, result };
}

/** `datarun audit verify-export <file>`: checks an export against its signed manifest, offline. */
export async function runAuditVerifyExport(options: CommandOutput & { file: string; verify: AuditSignatureVerifier; manifest?: string }): Promise<{ exitCode: number }> {
  const out = options.stdout ?? process.stdout;
  const check = await verifyAuditExport({ file: options.file, verify: options.verify, ...(options.manifest ? { manifestPath: options.manifest } : {}) });
  if (check.ok) {
    const m = check.manifest!;
    out.write(`export ${options.file}: valid, ${m.count} records${m.count > 0 ? ` (seq ${m.firstSeq} to ${m.lastSeq})` : ''} of chain ${m.chain}, exported ${m.time}${m.head ? ` from a log verified against its head of size ${m.head.size}` : ''}\n`);
    return { exitCode: CLI_EXIT.OK };
  }
  out.write(`export ${options.file}: INVALID: ${check.problem}\n`);
  return { exitCode: CLI_EXIT.VERIFY_FAILED };
}

/**
 * `datarun audit prove <seq>`: a record's inclusion proof (RFC 9162) in the log's tree, checked
 * here against the newest signed head (or the tree of `--size` records), printed as JSON.
 */
export async function runAuditProve(options: CommandOutput & { dir: string; seq: number | string; size?: number | string; subjectKeySecret: Uint8Array | string; verify: AuditSignatureVerifier }): Promise<{ exitCode: number }> {
  const seq = seqArgument(options.seq, 'seq')!;
  const size = seqArgument(options.size, 'size');
  const out = options.stdout ?? process.stdout;
  const reader = await openAuditLogReader({ dir: options.dir, subjectKeySecret: options.subjectKeySecret });
  try {
    const proof = await reader.inclusionProof(seq, size);
    const head = proof.head;
    const signedOk = head ? (await options.verify(head.jws))?.valid === true && head.head.root === proof.root : false;
    const included = verifyInclusion(Buffer.from(proof.leafHash, 'base64url'), proof.leafIndex, proof.treeSize, proof.path.map((h) => Buffer.from(h, 'base64url')), Buffer.from(proof.root, 'base64url'));
    out.write(`${JSON.stringify(proof, null, 2)}\n`);
    if (included && (signedOk || !head)) {
      out.write(`VALID: record ${seq} is leaf ${proof.leafIndex} of the tree of ${proof.treeSize} records${head ? `, whose root the hub signed at ${head.head.time}` : ' (no signed head of that size: check the root against one you hold)'}\n`);
      return { exitCode: CLI_EXIT.OK };
    }
    out.write(`INVALID: the proof of record ${seq} does not lead to ${signedOk ? 'the root' : 'the signed root'}\n`);
    return { exitCode: CLI_EXIT.VERIFY_FAILED };
  } finally {
    await reader.close();
  }
}

/** `datarun audit consistency <from> <to>`: the consistency proof between two tree sizes, checked, printed as JSON. */
export async function runAuditConsistency(options: CommandOutput & { dir: string; from: number | string; to: number | string; subjectKeySecret: Uint8Array | string }): Promise<{ exitCode: number }> {
  const from = seqArgument(options.from, 'from')!;
  const to = seqArgument(options.to, 'to')!;
  const out = options.stdout ?? process.stdout;
  const reader = await openAuditLogReader({ dir: options.dir, subjectKeySecret: options.subjectKeySecret });
  try {
    const proof = reader.consistencyProof(from, to);
    const ok = verifyConsistency(from, to, proof.path.map((h) => Buffer.from(h, 'base64url')), Buffer.from(proof.fromRoot, 'base64url'), Buffer.from(proof.toRoot, 'base64url'));
    out.write(`${JSON.stringify(proof, null, 2)}\n`);
    out.write(ok ? `VALID: the tree of ${to} records extends the tree of ${from}\n` : 'INVALID: the consistency proof does not hold\n');
    return { exitCode: ok ? CLI_EXIT.OK : CLI_EXIT.VERIFY_FAILED };
  } finally {
    await reader.close();
  }
}

/** `--all`: exports the matching records of every instance's chain under the archive root `dir`, merged by time, with one signed manifest naming each chain. */
export async function runAuditExportAll(options: AuditExportCommandOptions): Promise<{ exitCode: number; result: { manifest: MergedExportManifest; manifestPath: string } }> {
  const result = await exportAllAuditRecords({ root: options.dir, filter: exportFilter(options), format: options.format, out: options.out, sign: options.sign, verify: options.verify, subjectKeySecret: options.subjectKeySecret });
  const out = options.stdout ?? process.stdout;
  const { manifest } = result;
  const chains = manifest.chains.map((c) => `${c.dir}: ${c.count}`).join(', ');
  out.write(`exported ${manifest.count} records of ${manifest.chains.length} chain${manifest.chains.length === 1 ? '' : 's'} (${chains}), merged by time, to ${options.out}; signed manifest ${result.manifestPath}\n`);
  return { exitCode: CLI_EXIT.OK, result };
}
