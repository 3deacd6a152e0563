/**
 * The audit log: one hash-chained, durably written record per request, signed checkpoints,
 * verification, export, and the index behind the auditor and citizen queries.
 */
export { openAuditLog, openAuditLogReader, DEFAULT_AUDIT_LOG_OPTIONS, MIN_RETENTION_DAYS, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE } from './audit-log';
export type {
  AuditLog,
  AuditLogReader,
  AuditLogOptions,
  AuditLogReaderOptions,
  AuditLogHealth,
  AccessLogFilter,
  PageRequest,
  Page,
  CitizenAccess,
  DisclosureRule,
} from './audit-log';
export type { AuditRecord, AuditRecordInput, AuditSubject, AuditOutcome, SubjectRef, SubjectKind } from './record';
export { createSubjectKeyer } from './record';
export type { AuditSigner, AuditSignatureVerifier, AuditSignatureCheck, AuditCheckpoint } from './checkpoint';
export type { AuditSink, AuditSinkState, SinkRecord, SinkHead, AuditLogEvent } from './sink';
export { nodeAuditFs, noSyncAuditFs } from './fs';
export type { AuditFs } from './fs';
export { verifyAuditLog } from './verify';
export type { VerifyAuditLogOptions, AuditVerifyReport, AuditVerifyProgress, AuditProblem, AuditProblemKind } from './verify';
export { exportAuditRecords, CSV_COLUMNS } from './export';
export type { ExportAuditRecordsOptions, ExportAuditRecordsResult, ExportManifest } from './export';
export { AuditError, AuditErrorCode, AuditOptionsError, AuditUnavailableError, AuditInstanceInUseError, AuditStreamConflictError, AuditReplicasMissingError } from './errors';
export type { AuditUnavailableReason } from './errors';
export { canonicalJson } from './canonical-json';
export { createFileSink, DEFAULT_FILE_SINK_OPTIONS } from './file-sink';
export type { FileSinkOptions } from './file-sink';
export { signCheckpoint, CHECKPOINT_TYPE } from './checkpoint';
export { createRedisAuditSink, DEFAULT_REDIS_AUDIT_SINK } from './redis-sink';
export type { RedisAuditSinkOptions } from './redis-sink';
export { startAuditArchiver, DEFAULT_AUDIT_ARCHIVER } from './archiver';
export type { AuditArchiver, AuditArchiverEvent, AuditArchiverOptions } from './archiver';
export { createChainReader } from './chain-reader';
export type { ChainReader, ChainReaderOptions } from './chain-reader';
export { openSharedAccessIndex, migrateAuditIndex, AUDIT_INDEX_SCHEMA_VERSION, DEFAULT_SHARED_ACCESS_INDEX } from './pg-index';
export type { SharedAccessIndex, SharedAccessIndexOptions, SharedIndexEvent } from './pg-index';
export { findChainDirs, verifyAllAuditLogs, exportAllAuditRecords } from './all-instances';
export type { AllAuditLogsReport, MergedExportManifest, ExportAllAuditRecordsOptions } from './all-instances';
