/**
 * The audit log: one hash-chained, durably written record per request, the records as leaves of
 * a Merkle tree under signed tree heads (RFC 9162), inclusion and consistency proofs,
 * verification, export, and the index behind the auditor and citizen queries.
 */
export { openAuditLog, openAuditLogReader, DEFAULT_AUDIT_LOG_OPTIONS, MIN_RETENTION_DAYS, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE } from './audit-log';
export { quotedArgument } from './query';
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
  SignedTreeHead,
  InclusionProof,
  ConsistencyProof,
} from './audit-log';
export type { AuditRecord, AuditRecordInput, AuditSubject, AuditOutcome, SubjectRef, SubjectKind, AuditChange, AuditOnBehalfOf } from './record';
export { createSubjectKeyer, hashedValue, MAX_CHANGES } from './record';
export type { AuditSigner, AuditSignatureVerifier, AuditSignatureCheck, AuditCheckpoint, AuditTreeHead } from './checkpoint';
export { checkTreeHeadLine, headHash, TREE_HEAD_TYPE, RETENTION_TYPE } from './checkpoint';
export { leafHash, verifyInclusion, verifyConsistency, MerkleTree } from './merkle';
export type { AuditSink, AuditSinkState, SinkRecord, SinkHead, AuditLogEvent } from './sink';
export { nodeAuditFs, noSyncAuditFs } from './fs';
export type { AuditFs } from './fs';
export { verifyAuditLog, HEAD_INTERVAL_MS, UNSIGNED_GRACE_MS } from './verify';
export type { VerifyAuditLogOptions, AuditVerifyReport, AuditVerifyProgress, AuditProblem, AuditProblemKind } from './verify';
export { exportAuditRecords, verifyAuditExport, CSV_COLUMNS } from './export';
export type { ExportAuditRecordsOptions, ExportAuditRecordsResult, ExportManifest, ExportCheck } from './export';
export { AuditError, AuditErrorCode, AuditLogCorruptError, AuditOptionsError, AuditUnavailableError, AuditInstanceInUseError, AuditStreamConflictError, AuditReplicasMissingError } from './errors';
export type { AuditUnavailableReason } from './errors';
export { canonicalJson } from './canonical-json';
export { createFileSink, DEFAULT_FILE_SINK_OPTIONS } from './file-sink';
export type { FileSinkOptions } from './file-sink';
export { signCheckpoint, CHECKPOINT_TYPE } from './checkpoint';
export { createRedisAuditSink, DEFAULT_REDIS_AUDIT_SINK, newestHeadsInStore } from './redis-sink';
export type { RedisAuditSinkOptions } from './redis-sink';
export { createChainProver } from './chain-prover';
export type { ChainProver } from './chain-prover';
export { startAuditArchiver, DEFAULT_AUDIT_ARCHIVER } from './archiver';
export type { AuditArchiver, AuditArchiverEvent, AuditArchiverOptions } from './archiver';
export { createChainReader } from './chain-reader';
export type { ChainReader, ChainReaderOptions } from './chain-reader';
export { openSharedAccessIndex, migrateAuditIndex, AUDIT_INDEX_SCHEMA_VERSION, DEFAULT_SHARED_ACCESS_INDEX } from './pg-index';
export type { SharedAccessIndex, SharedAccessIndexOptions, SharedIndexEvent } from './pg-index';
export { findChainDirs, verifyAllAuditLogs, exportAllAuditRecords } from './all-instances';
export type { AllAuditLogsReport, MergedExportManifest, ExportAllAuditRecordsOptions } from './all-instances';
