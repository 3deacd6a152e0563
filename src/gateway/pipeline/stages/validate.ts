/**
 * GraphQL validation, before the policy: first the cost limits (depth, aliases, root fields,
 * estimated result size, as validation rules that run before graphql-js's own), then graphql-js's
 * specified rules against the hub's schema. A document that fails is refused with
 * GRAPHQL_VALIDATION_FAILED (or QUERY_TOO_COMPLEX), no department called.
 *
 * Suggestions ("Did you mean …?") come only from what the caller may see: a failing document is
 * validated again against the caller's own view of the schema (its grants and the catalogue), and
 * those messages are the ones reported, so a typo never reveals a field the caller is not granted.
 * Outcomes are cached per document and limits, bounded by bytes. Queries and mutations pass (a
 * mutation's root fields are coordinates the policy grants like any other, `Mutation.claimCase`);
 * subscriptions are refused.
 */
import { getOperationAST, specifiedRules, validate, type DocumentNode, type GraphQLError, type GraphQLSchema, type SourceLocation } from 'graphql';
import { createByteLru, HubError, HubErrorCode, type ByteLru } from '../../../sdk';
import { limitRules, QueryTooComplexError, type QueryLimits } from '../../limits';
import type { Flow } from '../types';

/** How many validation errors a reply lists (the first ones; the count says how many there were). */
export const MAX_REPORTED_VALIDATION_ERRORS = 20;

/** Defaults of the validate stage's cache, in bytes. */
export const DEFAULT_VALIDATION_CACHE_BYTES = 4 * 1024 * 1024;

export interface ValidateStageOptions {
  readonly schema: GraphQLSchema;
  limitsOf(flow: Flow): QueryLimits;
  /** The schema the caller sees (for suggestions); the full schema in the open sandbox mode. */
  visibleSchema(flow: Flow): GraphQLSchema;
  /** @default DEFAULT_VALIDATION_CACHE_BYTES */
  cacheBytes?: number;
}

/** The validate stage and its cache (exposed for metrics and tests). */
export interface ValidateStage {
  (flow: Flow): void;
  readonly outcomes: ByteLru<DocumentNode, Map<string, Outcome>>;
}

/** What validating one document under one set of limits found, whatever the variables. */
interface Outcome {
  /** Over `maxEstimatedResults` by the declared list bounds: the count with the request's variables decides. */
  readonly sizedByVariables: boolean;
  /** graphql-js's own validation errors. */
  readonly errors: readonly GraphQLError[];
}

const limitsKey = (l: QueryLimits): string => `${l.maxDepth}:${l.maxAliases}:${l.maxRootFields}:${l.maxEstimatedResults}`;

/** The limit a limit rule's error reports (the rules report QueryTooComplexError itself). */
function limitError(error: GraphQLError): QueryTooComplexError | undefined {
  return error instanceof QueryTooComplexError ? error : error.originalError instanceof QueryTooComplexError ? error.originalError : undefined;
}

function isOverEstimatedSize(error: GraphQLError): boolean {
  return limitError(error)?.limit === 'maxEstimatedResults';
}

function tooComplex(error: GraphQLError): HubError {
  return limitError(error) ?? new HubError(HubErrorCode.QUERY_TOO_COMPLEX, error.message);
}

function validationFailed(errors: readonly { message: string; locations?: readonly SourceLocation[] | undefined }[]): HubError {
  const first = errors[0]!;
  const listed = errors.slice(0, MAX_REPORTED_VALIDATION_ERRORS).map((e) => ({ message: e.message, ...(e.locations ? { locations: e.locations } : {}) }));
  return new HubError(HubErrorCode.GRAPHQL_VALIDATION_FAILED, first.message, {
    ...(first.locations ? { locations: first.locations } : {}),
    ...(errors.length > 1 ? { errors: listed, errorCount: errors.length } : {}),
  });
}

export function validateStage(options: ValidateStageOptions): ValidateStage {
  const { schema } = options;
  const rulesByLimits = new Map<string, ReturnType<typeof limitRules>>();
  // Keyed by the parsed document (the parse stage's cache hands out one node per text). An entry
  // keeps its document alive, so it is charged like the parse cache charges one: several times
  // the source text the node holds.
  const outcomes = createByteLru<DocumentNode, Map<string, Outcome>>({
    maxBytes: options.cacheBytes ?? DEFAULT_VALIDATION_CACHE_BYTES,
    sizeOf: (document) => 200 + (document.loc?.source.body.length ?? 1000) * 8,
  });

  const stage = (flow: Flow): void => {
    const document = flow.document!;
    const limits = options.limitsOf(flow);
    const key = limitsKey(limits);
    let perLimits = outcomes.get(document);
    let outcome = perLimits?.get(key);
    if (outcome === undefined) {
      let rules = rulesByLimits.get(key);
      if (rules === undefined) rulesByLimits.set(key, (rules = limitRules(limits)));
      // The limits first, alone: a document over them is refused before the specified rules walk it.
      // Without the variables, a list sized by a variable counts as its declared maximum: an upper bound.
      const overLimits = validate(schema, document, rules);
      const overSize = overLimits.filter(isOverEstimatedSize);
      if (overLimits.length > overSize.length) throw tooComplex(overLimits.find((e) => !isOverEstimatedSize(e))!);
      outcome = { sizedByVariables: overSize.length > 0, errors: validate(schema, document, specifiedRules) };
      if (perLimits === undefined) perLimits = new Map();
      perLimits.set(key, outcome);
      outcomes.set(document, perLimits);
    }
    if (outcome.sizedByVariables) {
      // Over the estimate by its declared bounds: whether it passes depends on this request's
      // variables (the lists they size), so it is counted again on every request, never cached.
      const exact = validate(schema, document, limitRules(limits, { variables: flow.body!.variables }));
      if (exact.length > 0) throw tooComplex(exact[0]!);
    }
    const { errors } = outcome;
    if (errors.length > 0) {
      const visible = options.visibleSchema(flow);
      if (visible === schema) throw validationFailed(errors);
      // Reported as the caller's own view of the schema sees them: suggestions only from granted fields.
      const seen = validate(visible, document, specifiedRules);
      throw validationFailed(seen.length > 0 ? seen : errors.map((e) => ({ message: e.message.replace(/ Did you mean .*$/, ''), locations: e.locations })));
    }
    const operation = getOperationAST(document, flow.body!.operationName || undefined);
    if (!operation) {
      const name = flow.body!.operationName;
      throw new HubError(HubErrorCode.OPERATION_RESOLUTION_FAILURE, name ? `Unknown operation named "${name.slice(0, 100)}".` : 'The document holds several operations: name the one to run in "operationName".');
    }
    if (flow.request.subscription === true) {
      if (operation.operation !== 'subscription') throw new HubError(HubErrorCode.GRAPHQL_VALIDATION_FAILED, `Only subscriptions are opened here: send ${operation.operation === 'query' ? 'queries' : 'mutations'} to POST /graphql.`);
    } else if (operation.operation === 'subscription') {
      // Queries and mutations (their root fields run one after another) here; subscriptions on their own route.
      throw new HubError(HubErrorCode.GRAPHQL_VALIDATION_FAILED, 'A subscription is opened at POST /graphql/stream (GraphQL over Server-Sent Events, Accept: text/event-stream), not here.');
    }
    flow.operation = operation;
  };
  return Object.assign(stage, { outcomes });
}
