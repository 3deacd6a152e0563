/**
 * `datarun audit new-chain`: after a log was lost, replaced or damaged beyond repair, the hub
 * refuses to start (it will not sign over what it cannot show to continue its last head). This
 * command keeps whatever is in the log directory aside, untouched, for investigation, and opens a
 * new chain whose first signed head records the break: the last head known of the old chain (from
 * the keys directory) and the reason given. Auditors see the break; nothing is silently restarted.
 */
import { existsSync, readdirSync, renameSync } from 'node:fs';
import { openAuditLog } from '../audit';
import { auditHeadFile, auditSigner, auditSubjectSecret, auditVerifier, loadConfig } from '../gateway';
import { loadKeyStore } from '../seal';
import { CLI_EXIT } from '../sdk';

export async function runAuditNewChain(options: { reason: string; config?: string; stdout?: { write(text: string): unknown }; now?: () => Date }): Promise<number> {
  const out = options.stdout ?? process.stdout;
  const config = loadConfig(options.config ? { file: options.config } : {});
  const dir = config.audit.dir;
  const instanceId = config.audit.instanceId;
  if (options.reason.trim().length === 0) {
    out.write('datarun audit new-chain: --reason must say why the chain is broken\n');
    return CLI_EXIT.USAGE;
  }
  let keptAside: string | undefined;
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    keptAside = `${dir}.before-${(options.now ?? (() => new Date()))().toISOString().replace(/[:.]/g, '-')}`;
    renameSync(dir, keptAside);
  }
  const keyStore = await loadKeyStore(config.keys.dir);
  const log = await openAuditLog({
    dir,
    instanceId,
    sign: auditSigner(keyStore),
    verify: auditVerifier({ keyStore }),
    headFile: auditHeadFile(config.keys.dir, instanceId),
    subjectKeySecret: auditSubjectSecret(config.keys.dir, process.env.DATARUN_AUDIT_SUBJECT_SECRET),
    onChainBreak: 'record',
    breakReason: options.reason,
  });
  const head = log.treeHead();
  await log.close();
  out.write(`a new chain ${log.chainId} of instance ${instanceId} starts in ${dir}\n`);
  if (keptAside) out.write(`the previous contents are kept, untouched, in ${keptAside}\n`);
  out.write(head?.head.break ? `its first signed head records the break from chain ${head.head.break.chain} (${head.head.break.size} records), reason: ${head.head.break.reason}\n` : `no earlier head of instance ${instanceId} was kept in ${auditHeadFile(config.keys.dir, instanceId)}: nothing to record\n`);
  return CLI_EXIT.OK;
}
