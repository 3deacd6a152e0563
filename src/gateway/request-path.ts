/**
 * The secure request path's steps, free of any transport: who asks (the signed request), may
 * they (the policy), the request's context, and after execution the masks, seals, the durable
 * access record and the receipt. Adapters (HTTP today) call these instead of reaching into the
 * policy, seal and audit modules themselves.
 */
import { createHubContext, HubErrorCode } from '../sdk';
import type { AuditOutcome } from '../audit';
import { applyMasks, consentTokensFromHeader, type AllowedDecision, type Decision } from '../policy';
import { hashJson, hashText, readRequestToken } from '../seal';
import { accessRecord, type AccessFacts } from './audit';
import type { Gateway } from './hub';
import type { Caller, RequestContext } from './request-context';
import { presentSeals } from './seals';

/** Where the request path reports what operators must see (never personal data). */
export interface RequestPathLogger {
  error(details: Record<string, unknown>, message: string): void;
}

/** A GraphQL reply as execution produced it, before masks, seals and the receipt. */
export interface GatewayReply {
  data?: Record<string, unknown> | null;
  errors?: readonly unknown[];
  extensions?: Record<string, unknown>;
}

/** The steps of the secure request path, bound to one gateway. */
export interface RequestPath {
  /** Verifies the signed request over the exact body bytes; rejects with UnauthenticatedError, or ReplayGuardUnavailableError when the id cannot be checked (Redis down, guard full). */
  authenticate(authorization: string | undefined, body: Buffer): Promise<Caller>;
  /** Checks the whole operation against the caller's grants and consents before anything is fetched. */
  checkPolicy(caller: Caller, request: { document: string; operationName: string | null; variables: Record<string, unknown>; consentHeader: string | undefined }): Promise<Decision>;
  /** The context one request executes in: per-request loaders, the caller, the decision, the seals made. */
  createContext(options: { requestId: string; signal: AbortSignal; caller: Caller | null; decision: AllowedDecision | null }): RequestContext;
  /** Records a refused request (nothing leaves with it, so a failed append is only logged). */
  recordRefusal(requestId: string, caller: Caller | null, decision: Decision | null, query: string | null, outcome: AuditOutcome, codes: string[]): Promise<void>;
  /**
   * After execution: masks, then seals cut to the masked reply, then the access record written
   * durably, then the receipt carrying its sequence number. Resolves false when the record could
   * not be written: the reply then carries AUDIT_UNAVAILABLE and no data (no audit, no data).
   */
  finishReply(result: GatewayReply, context: RequestContext, query: string, variables: Record<string, unknown>, operationName: string | null): Promise<boolean>;
}

/** The request path of a gateway. */
export function createRequestPath(gateway: Gateway, logger: RequestPathLogger): RequestPath {
  /** Appends one access record; resolves to its sequence number, or undefined when audit is off. Throws AuditUnavailableError. */
  async function record(facts: AccessFacts): Promise<number | undefined> {
    if (!gateway.audit) return undefined;
    return (await gateway.audit.append(accessRecord(facts))).seq;
  }

  return {
    async authenticate(authorization, body) {
      const verified = await gateway.verifier.verify(readRequestToken(authorization), body);
      return {
        consumer: verified.consumer,
        roles: verified.roles,
        purpose: verified.claims.purpose,
        caseNumber: verified.claims.case,
        operator: verified.claims.operator,
        requestTokenId: verified.claims.jti,
      };
    },

    checkPolicy(caller, request) {
      return gateway.policy.check({
        consumer: caller.consumer,
        purpose: caller.purpose,
        document: request.document,
        operationName: request.operationName,
        variables: request.variables,
        consents: consentTokensFromHeader(request.consentHeader),
      });
    },

    createContext({ requestId, signal, caller, decision }) {
      return Object.assign(createHubContext({ requestId, signal, cacheOf: gateway.cacheOf }), { caller, decision, seals: { pending: [] } });
    },

    async recordRefusal(requestId, caller, decision, query, outcome, codes) {
      try {
        await record({ requestId, caller, decision, query, operationName: decision?.operationName ?? null, outcome, errorCodes: codes, replyHash: null });
      } catch (error) {
        logger.error({ err: { name: (error as Error)?.name, code: (error as { code?: string }).code }, requestId }, 'access record of a refused request could not be written');
      }
    },

    async finishReply(result, context, query, variables, operationName) {
      const masked = context.decision ? applyMasks(result.data, context.decision) : [];
      presentSeals(result.data, context.seals);
      const codes = (result.errors ?? []).map((e) => String((e as { extensions?: { code?: unknown } }).extensions?.code ?? HubErrorCode.INTERNAL_SERVER_ERROR));
      const hasData = result.data !== undefined && result.data !== null && Object.values(result.data).some((v) => v !== null);
      const outcome: AuditOutcome = codes.length === 0 ? 'GRANTED' : hasData ? 'PARTIAL' : 'FAILED';
      // Hashed once, and only when the access record or the receipt needs it.
      const dataHash = result.data === undefined || (!gateway.audit && !context.caller) ? null : hashJson(result.data ?? null);
      let auditSeq: number | undefined;
      try {
        auditSeq = await record({ requestId: context.requestId, caller: context.caller, decision: context.decision, query, operationName, outcome, errorCodes: codes, replyHash: dataHash });
      } catch (error) {
        logger.error({ err: { name: (error as Error)?.name, code: (error as { code?: string }).code }, requestId: context.requestId }, 'access record could not be written: reply withheld');
        delete result.data;
        result.errors = [{ message: 'The access log cannot be written: no data is sent without its record.', extensions: { code: HubErrorCode.AUDIT_UNAVAILABLE } }];
        delete result.extensions;
        return false;
      }
      if (!context.caller) return true;
      const extensions: Record<string, unknown> = { ...result.extensions };
      if (masked.length > 0) extensions.masked = masked.map((p) => p.join('.'));
      extensions.receipt = gateway.receipts.signReceipt({
        requestId: context.requestId,
        consumer: context.caller.consumer,
        purpose: context.caller.purpose,
        case: context.caller.caseNumber,
        operator: context.caller.operator,
        time: new Date(),
        queryHash: hashText(query),
        variablesHash: hashJson(variables),
        dataHash: dataHash ?? hashJson(null),
        ...(auditSeq !== undefined ? { auditSeq } : {}),
      });
      result.extensions = extensions;
      return true;
    },
  };
}
