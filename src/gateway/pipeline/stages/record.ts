/**
 * The access record: exactly one per request, whatever its outcome. A request refused before it
 * authenticated adds one to its source's aggregate for that reason and second (a flood from one
 * address is one record a second, not one per request); every other request appends its own
 * record, durably, and gets the record's sequence number for its receipt. The append can fail:
 * the pipeline then withholds the data (no record, no data).
 */
import type { AuditChange, AuditLog, AuditOutcome } from '../../../audit';
import { HubErrorCode } from '../../../sdk';
import { accessRecord } from '../../audit';
import { auditChangeOf } from '../../cases';
import { namedSubjects } from '../../named-subjects';
import type { RefusalAggregator } from '../../refusals';
import type { Flow, GatewayReply } from '../types';

/** Codes that mean the request was refused for who asked or what it asked, not because something failed. */
const DENIED_CODES: ReadonlySet<string> = new Set([HubErrorCode.UNAUTHENTICATED, HubErrorCode.POLICY_DENIED, HubErrorCode.RATE_LIMITED, HubErrorCode.FORBIDDEN]);

/** How a request ended, for its record: its refusal code, or the field errors of the reply it got. */
export function outcomeOf(code: string | null, reply: GatewayReply): { outcome: AuditOutcome; codes: string[] } {
  if (code !== null) return { outcome: DENIED_CODES.has(code) ? 'DENIED' : 'FAILED', codes: [code] };
  const codes = (reply.errors ?? []).map((e) => String((e as { extensions?: { code?: unknown } }).extensions?.code ?? HubErrorCode.INTERNAL_SERVER_ERROR));
  if (codes.length === 0) return { outcome: 'GRANTED', codes };
  const hasData = reply.data !== undefined && reply.data !== null && Object.values(reply.data).some((v) => v !== null);
  return { outcome: hasData ? 'PARTIAL' : 'FAILED', codes };
}

/** Where the record stage writes. */
export interface RecordTargets {
  /** The access log; undefined only when it is off (benchmarks, never in signed mode otherwise). */
  readonly audit: AuditLog | undefined;
  /** Aggregates refusals before authentication; undefined when the access log is off. */
  readonly refusals: RefusalAggregator | undefined;
}

/**
 * Records one request. Resolves to the record's sequence number (undefined when aggregated or the
 * log is off); rejects (AuditUnavailableError) when the record could not be written.
 */
export async function recordStage(targets: RecordTargets, flow: Flow, code: string | null, reply: GatewayReply, replyHash: string | null): Promise<number | undefined> {
  const { outcome, codes } = outcomeOf(code, reply);
  // A refusal's reason (MISSING, BAD_SIGNATURE, REPLAYED…) and, when the request was refused
  // before the policy saw whom it concerns, the subjects its body names: the citizen view shows them.
  const reason = code === null ? undefined : reasonOf(reply);
  const named = code !== null && !flow.decision ? namedSubjects(flow.request.body) : [];
  if (!flow.authenticated && code !== null) {
    targets.refusals?.refuse(flow.source, code, { ...(reason ? { reason } : {}), subjects: named });
    return undefined;
  }
  if (!targets.audit) return undefined;
  const body = flow.body;
  const record = accessRecord({
    requestId: flow.requestId,
    correlationId: flow.request.correlationId ?? null,
    source: flow.source,
    caller: flow.caller,
    decision: flow.decision ?? null,
    query: body?.query ?? null,
    operationName: body?.operationName ?? null,
    outcome,
    errorCodes: reason ? [...codes, reason] : codes,
    replyHash,
    ...(flow.context && flow.context.replySubjects.size > 0 ? { replySubjects: [...flow.context.replySubjects.values()] } : named.length > 0 ? { replySubjects: named } : {}),
    // What the request's mutations changed (a pushed case claimed…): in the same record as the request.
    ...changesOf(flow),
    // It asked a peer hub: the id the peer's record of the call carries too.
    ...(flow.context?.federationRequestId !== undefined ? { federationRequestId: flow.context.federationRequestId } : {}),
  });
  return (await targets.audit.append(record)).seq;
}

/** The state changes the request made, for its record: pushed cases' steps, then the others (a proof issued), in order. */
function changesOf(flow: Flow): { changes?: AuditChange[] } {
  const changes = [...(flow.context?.caseChanges ?? []).map(auditChangeOf), ...(flow.context?.auditChanges ?? [])];
  return changes.length > 0 ? { changes } : {};
}

/** The `extensions.reason` of a refusal's error, when it is a code (UNAUTHENTICATED's MISSING, REPLAYED…). */
function reasonOf(reply: GatewayReply): string | undefined {
  const reason = (reply.errors?.[0] as { extensions?: { reason?: unknown } } | undefined)?.extensions?.reason;
  return typeof reason === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(reason) ? reason : undefined;
}
