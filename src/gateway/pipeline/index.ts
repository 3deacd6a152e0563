/**
 * The request pipeline: every adapter (HTTP today; the CLI, subscriptions, webhooks, proof
 * issuance and hub-to-hub requests later) hands a request to `execute` and gets a reply naming
 * its error code, never a status. The stages run in one order, each its own module:
 *
 *   transport (refusals, CSRF) → authenticate → rate limit → replay guard → parse → validate
 *   → policy (grants, introspection) → consent → execute → mask → seal → record → receipt
 *
 * A stage refuses by throwing a coded HubError; whatever happens, `execute` then records the
 * request exactly once (its own access record, or one increment of an aggregate for refusals
 * before authentication) and only then returns; data leaves only with a written record.
 */
import { randomUUID } from 'node:crypto';
import type { DocumentNode, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import type { AuditLog } from '../../audit';
import type { PolicyEngine } from '../../policy';
import { clientCode, createHubContext, DeadlineExceededError, errorInfo, HubError, HubErrorCode, type ConnectorCache, type ErrorCode } from '../../sdk';
import { CanonicalizationError, hashJson, UnauthenticatedError, type ReceiptSigner, type RequestVerifier } from '../../seal';
import type { RateLimiter } from '../../state';
import { DEFAULT_LIMITS, type QueryLimits } from '../limits';
import type { RefusalAggregator } from '../refusals';
import { untracedStage, type RequestTracing } from '../tracing';
import type { CaseChange } from '../../cases';
import type { Caller, RequestContext } from '../request-context';
import { sourceOf } from '../source-address';
import { authenticateStage, type SessionLookup } from './stages/authenticate';
import { consentStage as untimedConsentStage } from './stages/consent';
import { executeStage } from './stages/execute';
import { maskStage as untimedMaskStage } from './stages/mask';
import { parseStage, type ParseStage } from './stages/parse';
import { policyStage } from './stages/policy';
import { rateLimitStage } from './stages/rate-limit';
import { receiptStage as untimedReceiptStage } from './stages/receipt';
import { recordStage as untimedRecordStage } from './stages/record';
import { replayStage } from './stages/replay';
import { sealStage as untimedSealStage } from './stages/seal';
import { transportStage } from './stages/transport';
import { validateStage, type ValidateStage } from './stages/validate';
import type { Flow, GatewayReply, GraphQLBody, HubReply, HubRequest } from './types';

export type { ConsoleRequestSession, Flow, GatewayReply, GraphQLBody, HubReply, HubRequest, TransportRefusal } from './types';
export { MAX_DENIED_LISTED } from './stages/policy';
export { MAX_VARIABLE_DEPTH } from './stages/parse';
export { bodyEncodingProblem } from './stages/transport';

/** Defaults of the pipeline. */
export const DEFAULT_PIPELINE = Object.freeze({
  /** One deadline per request, shared by all its department calls. */
  deadlineMs: 10_000,
});

/** Where the pipeline reports what operators must see (never personal data or values). */
export interface PipelineLogger {
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

/** What the pipeline is built from: the gateway's parts. */
export interface PipelineOptions {
  readonly schema: GraphQLSchema;
  /** `signed`: authentication, policy, seals and receipts; `open`: the unauthenticated sandbox mode. */
  readonly security: 'signed' | 'open';
  readonly verifier: RequestVerifier;
  readonly rateLimiter: RateLimiter;
  readonly policy: PolicyEngine;
  readonly receipts: ReceiptSigner;
  readonly audit: AuditLog | undefined;
  readonly refusals: RefusalAggregator | undefined;
  cacheOf(connectorId: string, signal: AbortSignal): ConnectorCache | undefined;
  /** The hub's limits (DEFAULT_LIMITS and the configuration); a consumer's policy may override them. */
  readonly limits?: QueryLimits;
  /** @default DEFAULT_PIPELINE.deadlineMs */
  readonly deadlineMs?: number;
  /** Proxies whose `X-Forwarded-For` is believed (CIDRs). @default [] */
  readonly trustedProxies?: readonly string[];
  readonly logger: PipelineLogger;
  /** The console's sessions, for requests that name one instead of carrying a signed token. */
  readonly sessions?: SessionLookup;
  /** Request and stage spans (src/gateway/tracing.ts); absent: tracing off, the stages run unwrapped. */
  readonly tracing?: RequestTracing;
  /** Hears each stage's time and each request's end (metrics, the request log line). @default none */
  readonly observer?: PipelineObserver;
}

/** What the pipeline tells its observer: no values, only the flow as the stages left it. */
export interface PipelineObserver {
  /** One stage ran (or refused) in this many seconds. */
  stage(name: string, seconds: number): void;
  /** One request ended with this reply, this many seconds after it reached the pipeline. */
  request(flow: Flow, reply: HubReply, seconds: number): void;
}

/** A stage timed for the observer, sync or async alike. */
/**
 * Stage times are sampled: one call in STAGE_SAMPLE of each stage is timed (the first one
 * included), the others run as they are. Timing every call cost a cache-warm request a tenth of
 * its throughput (a timer pair and a promise per async stage, thirteen stages); the request's own
 * latency is measured on every request.
 */
export const STAGE_SAMPLE = 16;

function timed<A extends unknown[], R>(observer: PipelineObserver | undefined, name: string, stage: (...args: A) => R): (...args: A) => R {
  if (!observer) return stage;
  let calls = 0;
  return (...args) => {
    if (calls++ % STAGE_SAMPLE !== 0) return stage(...args);
    const started = performance.now();
    const seen = (): void => observer.stage(name, (performance.now() - started) / 1000);
    let result: R;
    try {
      result = stage(...args);
    } catch (error) {
      seen();
      throw error;
    }
    if (result instanceof Promise) return result.finally(seen) as R;
    seen();
    return result;
  };
}

/** The request pipeline of one gateway. */
export interface Pipeline {
  execute(request: HubRequest): Promise<HubReply>;
  /**
   * Admits a subscription: every stage up to the consent check, and its record (the opening
   * carries no data). Admitted, it answers the standing operation each delivery runs again.
   */
  open(request: HubRequest): Promise<{ reply: HubReply; standing?: StandingOperation }>;
  /**
   * Admits a subscription for a caller authenticated elsewhere (a webhook registered by a signed
   * request, its deliveries run later): parse, validate, policy and consent, no record of its own
   * (the registering request has one). Throws the coded refusal.
   */
  admitFor(caller: Caller, request: HubRequest): Promise<StandingOperation>;
  /**
   * One delivery of a standing operation: the policy and consent again (a grant or consent that
   * ended refuses it), execution on `root` (the event), masks, seals, its own record and receipt.
   */
  deliver(standing: StandingOperation, root: unknown, signal?: AbortSignal, effects?: DeliveryEffects): Promise<HubReply>;
  /**
   * `deliver` in two steps, for a stream that runs its next event while the records before it
   * are written (src/gateway/ordered-delivery.ts): resolves once the delivery ran and its access
   * record is appended (chained, not yet durable), with its refusal code if it was refused; its
   * `reply` resolves once the record is durable (the receipt made then), or with
   * AUDIT_UNAVAILABLE when it could not be written. Nothing of the reply may leave before that.
   */
  stage(standing: StandingOperation, root: unknown, signal?: AbortSignal, effects?: DeliveryEffects): Promise<{ readonly code: ErrorCode | null; readonly reply: Promise<HubReply> }>;
  /** The pipeline's caches, for metrics and tests. */
  readonly caches: { readonly documents: ParseStage['documents']; readonly persistedQueries: ParseStage['persistedQueries']; readonly validations: ValidateStage['outcomes'] };
}

/**
 * What a delivery does besides reading: `openCases` runs once the policy and consent admitted the
 * delivery, just before execution, and the changes it answers go into the delivery's record (a
 * refused delivery opens nothing).
 */
export interface DeliveryEffects {
  readonly openCases?: () => Promise<readonly CaseChange[]>;
}

/** A subscription the pipeline admitted: what each of its deliveries runs again. */
export interface StandingOperation {
  /** The request id of the opening: every delivery's record names it as its correlation id. */
  readonly id: string;
  /** The opening request (its consent tokens are checked again at each delivery). */
  readonly request: HubRequest;
  readonly source: string;
  readonly caller: Caller | null;
  readonly body: GraphQLBody;
  readonly document: DocumentNode;
  readonly operation: OperationDefinitionNode;
}

/**
 * The error of a reply whose data was withheld because it cannot be canonicalized: where (the
 * canonicalization's own words name the place, never the value), under UPSTREAM_INVALID_RESPONSE,
 * since the hub's own values always canonicalize and the departments' texts are what can break.
 */
function withheldData(error: CanonicalizationError): Record<string, unknown> {
  return {
    message: `The reply's data was withheld: a department sent a value no receipt can carry (${error.message.replace('$', 'data')}).`,
    extensions: { code: HubErrorCode.UPSTREAM_INVALID_RESPONSE },
  };
}

/** Seconds a client should wait before retrying a refusal with this code, if any. */
function retryAfterOf(error: HubError): number | undefined {
  if (error.code === HubErrorCode.RATE_LIMITED) return Math.max(1, Math.ceil(Number(error.extensions.retryAfterMs ?? 1000) / 1000));
  if (error.code === HubErrorCode.REPLAY_GUARD_UNAVAILABLE || error.code === HubErrorCode.SHUTTING_DOWN || error.code === HubErrorCode.AUDIT_UNAVAILABLE) return 1;
  return undefined;
}

export function createPipeline(options: PipelineOptions): Pipeline {
  const { schema, policy, logger } = options;
  const deadlineMs = options.deadlineMs ?? DEFAULT_PIPELINE.deadlineMs;
  const trustedProxies = options.trustedProxies ?? [];
  const hubLimits = options.limits ?? DEFAULT_LIMITS;
  const limitsByConsumer = new Map<string, QueryLimits>();
  const limitsOf = (flow: Flow): QueryLimits => {
    const consumer = flow.caller?.consumer;
    if (consumer === undefined) return hubLimits;
    let limits = limitsByConsumer.get(consumer);
    if (limits === undefined) limitsByConsumer.set(consumer, (limits = { ...hubLimits, ...policy.limitsOf(consumer) }));
    return limits;
  };

  // Each stage timed for the observer and, traced, run in its span (the same function when both are off: nothing per request).
  const { observer } = options;
  const tracing = options.tracing;
  const traceStage = tracing ? tracing.stage : untracedStage;
  const stage = <F extends (...args: never[]) => unknown>(name: string, fn: F): F => timed(observer, name, traceStage(name, fn) as unknown as (...args: unknown[]) => unknown) as unknown as F;
  const transport = stage('transport', transportStage);
  const authenticate = stage('authenticate', authenticateStage(options.verifier, options.security, options.sessions, (consumer) => policy.rolesOf(consumer).has('federation-peer')));
  const rateLimit = stage('rate-limit', rateLimitStage(options.rateLimiter));
  const replay = stage('replay', replayStage(options.verifier, (error, flow) =>
    logger.warn({ requestId: flow.requestId, code: error.code, cause: (error.cause as Error | undefined)?.message }, 'replay guard unavailable: request refused'),
  ));
  const parseCaches = parseStage({ limitsOf });
  const parse = stage('parse', parseCaches);
  const validateCaches = validateStage({ schema, limitsOf, visibleSchema: (flow) => (flow.caller ? policy.schemaFor(flow.caller.consumer) : schema) });
  const validate = stage('validate', validateCaches);
  const decide = stage('policy', policyStage(policy));
  const consent = stage('consent', untimedConsentStage);
  const mask = stage('mask', untimedMaskStage);
  const seal = stage('seal', untimedSealStage);
  const record = stage('record', untimedRecordStage);
  const receipt = stage('receipt', untimedReceiptStage);
  const run = stage('execute', executeStage({
    schema,
    createContext: (flow): RequestContext =>
      Object.assign(createHubContext({ requestId: flow.requestId, signal: flow.signal, cacheOf: options.cacheOf }), {
        caller: flow.caller,
        decision: flow.allowed,
        seals: { pending: [] },
        maskedPaths: [],
        replySubjects: new Map(),
        // A delivery that opened cases before it ran: its record carries their changes.
        ...(flow.caseChanges ? { caseChanges: [...flow.caseChanges] } : {}),
      }),
    report: (error, path) => logger.error({ err: { name: (error as Error | undefined)?.name, stack: (error as Error | undefined)?.stack?.split('\n').slice(1, 6).join('\n') }, path }, 'unexpected resolver error'),
  }));
  const targets = { audit: options.audit, refusals: options.refusals };

  /** The reply of a refused request: its code, one error, no data. */
  function refusal(error: unknown, flow: Flow): { code: ErrorCode; reply: GatewayReply; retryAfterSeconds?: number } {
    if (error instanceof UnauthenticatedError) {
      const extensions = { code: HubErrorCode.UNAUTHENTICATED, reason: error.reason, ...(error.claim ? { claim: error.claim } : {}) };
      return { code: HubErrorCode.UNAUTHENTICATED, reply: { errors: [{ message: error.message, extensions }] } };
    }
    // A field's code (BAD_USER_INPUT, say) that refuses the whole request is a request error: 400 BAD_REQUEST.
    if (error instanceof HubError && errorInfo(error.code).level === 'field') {
      return refusal(new HubError(HubErrorCode.BAD_REQUEST, error.message, { ...error.extensions }), flow);
    }
    // Operator-level codes (Redis, keys, the log's internals) reach the client as INTERNAL_SERVER_ERROR; their details stay in the log.
    if (error instanceof HubError && clientCode(error.code) === error.code) {
      const { locations, ...extensions } = error.extensions as Record<string, unknown>;
      const retryAfterSeconds = retryAfterOf(error);
      return {
        code: error.code,
        reply: { errors: [{ message: error.message, ...(locations ? { locations } : {}), extensions: { ...extensions, code: error.code } }] },
        ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
      };
    }
    logger.error({ err: { name: (error as Error | undefined)?.name, code: (error as { code?: unknown } | undefined)?.code, stack: (error as Error | undefined)?.stack?.split('\n').slice(1, 6).join('\n') }, requestId: flow.requestId }, 'request failed');
    return { code: HubErrorCode.INTERNAL_SERVER_ERROR, reply: { errors: [{ message: 'Internal server error', extensions: { code: HubErrorCode.INTERNAL_SERVER_ERROR } }] } };
  }

  /** A flow for a request as it reaches the pipeline: its id, its source, and a signal aborted at the deadline or when the client goes away. */
  function begin(request: HubRequest, signal: AbortSignal): Flow {
    return {
      request,
      requestId: randomUUID(),
      source: sourceOf(request.peer?.address, request.peer?.forwardedFor, trustedProxies),
      signal,
      authenticated: false,
      caller: null,
      allowed: null,
    };
  }

  /**
   * One deadline per request, and the client's signal joined to it; `end` clears both. An
   * adapter that hands over its own controller has it aborted at the deadline: no second
   * controller, no listener.
   */
  function deadline(clientSignal: AbortSignal | undefined, own?: AbortController): { signal: AbortSignal; end(): void } {
    if (own !== undefined) {
      const timer = setTimeout(() => own.abort(new DeadlineExceededError(deadlineMs)), deadlineMs);
      return { signal: own.signal, end: () => clearTimeout(timer) };
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DeadlineExceededError(deadlineMs)), deadlineMs);
    const onClientGone = (): void => controller.abort(clientSignal?.reason);
    if (clientSignal?.aborted) onClientGone();
    else clientSignal?.addEventListener('abort', onClientGone, { once: true });
    return {
      signal: controller.signal,
      end() {
        clearTimeout(timer);
        clientSignal?.removeEventListener('abort', onClientGone);
      },
    };
  }

  /** The stages that admit a request: everything before execution. */
  async function admit(flow: Flow): Promise<void> {
    transport(flow);
    authenticate(flow);
    await rateLimit(flow);
    await replay(flow);
    parse(flow);
    validate(flow);
    decide(flow);
    await consent(flow);
  }

  /**
   * The end of every request, whatever happened: exactly one record, then (for data) the receipt
   * that carries its sequence number. The reply is returned only after its record is written.
   */
  async function finish(flow: Flow, started: number, code: ErrorCode | null, reply: GatewayReply, retryAfterSeconds: number | undefined, ending: { receipt: boolean } = { receipt: true }): Promise<HubReply> {
    const { requestId } = flow;
    if (tracing) tracing.annotate({ consumer: flow.caller?.consumer, purpose: flow.caller?.purpose, operationType: flow.operation?.operation });
    // Hashed once, and only when the record or the receipt needs it.
    let dataHash: string | null = null;
    if (code === null && reply.data !== undefined && (targets.audit || flow.caller)) {
      try {
        dataHash = hashJson(reply.data ?? null);
      } catch (error) {
        if (!(error instanceof CanonicalizationError)) throw error;
        // Data no canonical hash can carry (a department's text with a lone surrogate) cannot be
        // receipted or recorded as it is: it is withheld, and the reply says where it was.
        logger.error({ err: { name: error.name, message: error.message }, requestId }, 'reply data cannot be canonicalized: withheld');
        reply = { data: null, errors: [...(reply.errors ?? []), withheldData(error)] };
        dataHash = hashJson(null);
      }
    }
    const done = (answer: HubReply): HubReply => {
      observer?.request(flow, answer, (performance.now() - started) / 1000);
      return answer;
    };
    let auditSeq: number | undefined;
    try {
      auditSeq = await record(targets, flow, code, reply, dataHash);
    } catch (error) {
      logger.error({ err: { name: (error as Error)?.name, code: (error as { code?: string }).code }, requestId }, code === null ? 'access record could not be written: reply withheld' : 'access record of a refused request could not be written');
      // No record, no data. A refusal carries none, so it still goes out.
      if (code === null) {
        // Which failure (DISK_FULL, READ_ONLY, IO_ERROR…): no value and no path, and it tells the caller's operators why.
        const reason = (error as { code?: string; reason?: unknown }).code === HubErrorCode.AUDIT_UNAVAILABLE ? (error as { reason?: unknown }).reason : undefined;
        return done({
          requestId,
          code: HubErrorCode.AUDIT_UNAVAILABLE,
          body: {
            errors: [
              {
                message: 'The access log cannot be written: no data is sent without its record.',
                extensions: { code: HubErrorCode.AUDIT_UNAVAILABLE, ...(typeof reason === 'string' ? { reason } : {}) },
              },
            ],
          },
          retryAfterSeconds: 1,
        });
      }
    }
    if (code === null && ending.receipt) receipt(options.receipts, flow, reply, dataHash, auditSeq, targets.audit?.treeHead() ?? null);
    return done({ requestId, code, body: reply, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) });
  }

  async function execute(request: HubRequest): Promise<HubReply> {
    const started = performance.now();
    const limit = deadline(request.signal, request.controller);
    const flow = begin(request, limit.signal);
    let code: ErrorCode | null = null;
    let reply: GatewayReply;
    let retryAfterSeconds: number | undefined;
    try {
      await admit(flow);
      reply = await run(flow);
      mask(flow, reply);
      seal(flow, reply);
    } catch (error) {
      ({ code, reply, retryAfterSeconds } = refusal(error, flow));
    } finally {
      limit.end();
    }
    return finish(flow, started, code, reply, retryAfterSeconds);
  }

  async function open(request: HubRequest): Promise<{ reply: HubReply; standing?: StandingOperation }> {
    const started = performance.now();
    const limit = deadline(request.signal);
    const flow = begin({ ...request, subscription: true }, limit.signal);
    let code: ErrorCode | null = null;
    let reply: GatewayReply = {};
    let retryAfterSeconds: number | undefined;
    try {
      await admit(flow);
    } catch (error) {
      ({ code, reply, retryAfterSeconds } = refusal(error, flow));
    } finally {
      limit.end();
    }
    // The opening is recorded like any request (what it may read, for which purpose); it carries no data, so no receipt.
    const answer = await finish(flow, started, code, reply, retryAfterSeconds, { receipt: false });
    if (answer.code !== null) return { reply: answer };
    const standing: StandingOperation = Object.freeze({
      id: answer.requestId,
      request: { ...flow.request, correlationId: answer.requestId },
      source: flow.source,
      caller: flow.caller,
      body: flow.body!,
      document: flow.document!,
      operation: flow.operation!,
    });
    return { reply: answer, standing };
  }

  async function admitFor(caller: Caller, request: HubRequest): Promise<StandingOperation> {
    const limit = deadline(undefined);
    const flow: Flow = { ...begin({ ...request, subscription: true }, limit.signal), authenticated: true, caller };
    try {
      parse(flow);
      validate(flow);
      decide(flow);
      await consent(flow);
    } finally {
      limit.end();
    }
    return Object.freeze({ id: flow.requestId, request: flow.request, source: flow.source, caller, body: flow.body!, document: flow.document!, operation: flow.operation! });
  }

  async function deliver(standing: StandingOperation, root: unknown, signal?: AbortSignal, effects?: DeliveryEffects): Promise<HubReply> {
    return (await stageDelivery(standing, root, signal, effects)).reply;
  }

  async function stageDelivery(standing: StandingOperation, root: unknown, signal?: AbortSignal, effects?: DeliveryEffects): Promise<{ code: ErrorCode | null; reply: Promise<HubReply> }> {
    const started = performance.now();
    const limit = deadline(signal);
    // Authenticated when it was opened; everything from the policy on runs again, now.
    const flow: Flow = {
      ...begin(standing.request, limit.signal),
      authenticated: true,
      caller: standing.caller,
      body: standing.body,
      document: standing.document,
      operation: standing.operation,
      rootValue: root,
    };
    let code: ErrorCode | null = null;
    let reply: GatewayReply;
    let retryAfterSeconds: number | undefined;
    try {
      if (flow.caller) {
        decide(flow);
        await consent(flow);
      }
      if (effects?.openCases) flow.caseChanges = await effects.openCases();
      reply = await run(flow);
      mask(flow, reply);
      seal(flow, reply);
    } catch (error) {
      ({ code, reply, retryAfterSeconds } = refusal(error, flow));
    } finally {
      limit.end();
    }
    // `finish` appends the record before its first await: when this resolves the record is chained, its write pending.
    return { code, reply: finish(flow, started, code, reply, retryAfterSeconds) };
  }

  const traced = tracing ? (request: HubRequest): Promise<HubReply> => tracing.request(request, () => execute(request)) : execute;
  return { execute: traced, open, admitFor, deliver, stage: stageDelivery, caches: { documents: parseCaches.documents, persistedQueries: parseCaches.persistedQueries, validations: validateCaches.outcomes } };
}
