/**
 * `datarun audit reindex`: fills the shared auditor index (PostgreSQL) from the chains of every
 * instance, from Redis streams and the archive under `audit.dir`, with the hub's own
 * configuration (`DATARUN_CONFIG`, `DATARUN_*`). Without `--rebuild` each instance is indexed
 * from the index's progress on (what a running instance does by itself at start; useful for an
 * instance that no longer runs); `--rebuild` empties the index first and indexes every chain
 * from its first record. Safe next to running instances: rows are written idempotently.
 */
import { readdirSync } from 'node:fs';
import { Pool } from 'pg';
import { createChainReader, migrateAuditIndex, openSharedAccessIndex } from '../audit';
import { auditSubjectSecret, ConfigError, loadConfig } from '../gateway';
import { CLI_EXIT } from '../sdk';
import { createSharedState } from '../state';
import type { CommandOutput } from './audit';

/** Arguments of `datarun audit reindex`. */
export interface AuditReindexCommandOptions extends CommandOutput {
  /** The configuration file (default: DATARUN_CONFIG). */
  config?: string;
  /** Empty the index first, then index every chain from its first record. */
  rebuild?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** The instance ids whose chains exist: those Redis lists, and the archive's directories (a chain started anew, `<instance>.<8 hex>`, is read through its instance). */
function archivedInstances(root: string): string[] {
  try {
    return readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !/\.[0-9a-f]{8}$/.test(d.name))
      .map((d) => d.name);
  } catch {
    return [];
  }
}

/** Indexes every instance's chain into the shared index; prints one line per instance. */
export async function runAuditReindex(options: AuditReindexCommandOptions = {}): Promise<{ exitCode: number; indexed: Record<string, number> }> {
  const env = options.env ?? process.env;
  const config = loadConfig({ ...(options.config ? { file: options.config } : {}), env });
  const url = config.audit.index.url;
  if (!config.redis || !url) throw new ConfigError('audit reindex needs the shared state (redis) and the shared index (audit.index.url, DATARUN_AUDIT_INDEX_URL) of several instances');
  const out = options.stdout ?? process.stdout;
  const state = createSharedState({ redis: config.redis, rateLimits: () => undefined });
  const indexed: Record<string, number> = {};
  try {
    if (!(await state.waitUntilReady(config.redis.connectTimeoutMs ?? 2000)) || !state.streams) throw new ConfigError('audit reindex: Redis does not answer');
    if (options.rebuild) {
      const pool = new Pool({ connectionString: url, max: 1 });
      try {
        await migrateAuditIndex(pool);
        await pool.query('TRUNCATE audit_index, audit_index_progress');
      } finally {
        await pool.end();
      }
    }
    const reader = createChainReader({ streams: state.streams, archiveRoot: config.audit.dir });
    const index = await openSharedAccessIndex({ url, reader, subjectKeySecret: auditSubjectSecret(config.keys.dir, env.DATARUN_AUDIT_SUBJECT_SECRET) });
    try {
      const instances = [...new Set([...(await reader.instances()), ...archivedInstances(config.audit.dir)])].sort();
      for (const instance of instances) {
        indexed[instance] = await index.catchUp(instance, options.rebuild ? 0 : undefined);
        out.write(`${instance}: indexed through seq ${indexed[instance]}\n`);
      }
      if (instances.length === 0) out.write('no instance chain found (Redis lists none, the archive holds none)\n');
    } finally {
      await index.close();
    }
  } finally {
    await state.close();
  }
  return { exitCode: CLI_EXIT.OK, indexed };
}
