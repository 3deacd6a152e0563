/**
 * The console's export: the hub's own export (`exportAuditRecords`, the code behind `datarun
 * audit export`) into a private temporary folder, read back as one document (the signed manifest
 * and the file's text, whose SHA-256 the manifest states), then removed. Who may export is
 * decided before, by the pipeline (the console route first runs the auditor's `accessLog` query
 * with the same filter, so the export is authorised and recorded like any search).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportAuditRecords, type ExportManifest, type SubjectRef } from '../audit';
import type { KeyStore } from '../seal';
import { auditSigner, auditVerifier } from './audit';

/** The filter conditions an export takes (the export code's: consumer, subject, case, time window). */
export interface ConsoleExportFilter {
  consumer?: string;
  subject?: SubjectRef;
  caseNumber?: string;
  from?: string;
  to?: string;
}

/** A signed export as one document: `content` is the export file's text; `manifest.sha256` is its hash. */
export interface ConsoleExport {
  manifest: ExportManifest;
  /** The hub's signature over the manifest (a checkpoint-key JWS, as in `<out>.manifest.json`). */
  jws: string;
  content: string;
}

export async function exportForConsole(options: { dir: string; keyStore: KeyStore; subjectKeySecret: string; filter: ConsoleExportFilter; format: 'jsonl' | 'csv' }): Promise<ConsoleExport> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'datarun-console-export-'));
  try {
    const out = path.join(tmp, `access-log.${options.format}`);
    const result = await exportAuditRecords({ dir: options.dir, filter: options.filter, format: options.format, out, sign: auditSigner(options.keyStore), verify: auditVerifier({ keyStore: options.keyStore }), subjectKeySecret: options.subjectKeySecret });
    const written = JSON.parse(await readFile(result.manifestPath, 'utf8')) as { manifest: ExportManifest; jws: string };
    return { manifest: written.manifest, jws: written.jws, content: await readFile(out, 'utf8') };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
