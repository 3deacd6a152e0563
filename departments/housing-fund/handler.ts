/**
 * The HTTP side of the housing fund sandbox: GraphQL over HTTP at `POST /graphql`, JSON in and
 * JSON out, executed with graphql-js against the subgraph schema. Every request but the kit's
 * control routes counts once, as soon as its operation is known and before faults apply.
 */
import type http from 'node:http';
import { execute, getOperationAST, GraphQLError, Kind, parse, validate, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import { serveControl, withFaults, type SandboxControl } from '../sandbox-kit';

/** The one GraphQL route. */
export const HOUSING_FUND_GRAPHQL_PATH = '/graphql';
/** Largest request body accepted; 100 representations take about 5 KiB. */
export const MAX_BODY_BYTES = 256 * 1024;
/** Most tokens of a document, bounded inside the parse (graphql-js `maxTokens`). */
const MAX_TOKENS = 100_000;
/** Deepest selection nesting accepted: the deepest useful query has about six levels. */
export const MAX_DEPTH = 16;
/**
 * Most values one reply may hold, by the estimate of `sizeProblem`: 100 whole accounts, lists
 * and all, are about 25 000, so batching by aliases fits with room to spare.
 */
export const MAX_VALUES = 250_000;

/** The counter names used besides the root field names (`_entities`, `_service`, `fundAccount`...). */
export const HOUSING_FUND_OPERATIONS = {
  /** A POST to /graphql with no operation to run: bad JSON, no query, a syntax error, an unknown operationName. */
  invalid: 'invalid',
  /** Any other path or method. */
  unknown: 'unknown',
} as const;

const JSON_TYPE = 'application/json; charset=utf-8';

/** A reply ready to send. */
interface Reply {
  status: number;
  body: string;
  headers?: http.OutgoingHttpHeaders;
}

/** A request-level failure, answered with this status and a GraphQL-shaped `errors` list. */
function requestError(status: number, message: string, code: string, headers?: http.OutgoingHttpHeaders): Reply {
  return { status, body: JSON.stringify({ errors: [{ message, extensions: { code } }] }), headers };
}

/** Reads the body up to MAX_BODY_BYTES; undefined when it is larger (the rest is drained). */
function readBody(req: http.IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The names of the root fields an operation selects, fragments followed, `__typename` left out. */
function rootFieldNames(document: DocumentNode, operation: OperationDefinitionNode): string[] {
  const names: string[] = [];
  const seenFragments = new Set<string>();
  const visit = (set: SelectionSetNode): void => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value !== '__typename') names.push(selection.name.value);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) visit(selection.selectionSet);
      else if (!seenFragments.has(selection.name.value)) {
        seenFragments.add(selection.name.value);
        const fragment = document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value);
        if (fragment?.kind === Kind.FRAGMENT_DEFINITION) visit(fragment.selectionSet);
      }
    }
  };
  visit(operation.selectionSet);
  return names;
}

/** The largest a list field's value can be, for the reply-size estimate (other fields count 1). */
const LIST_BOUNDS: Readonly<Record<string, number>> = { _entities: 100, contributions: 36, loans: 2, withdrawals: 10 };

/**
 * Why an operation is too large to run, or undefined: it nests deeper than MAX_DEPTH, or could
 * return more than MAX_VALUES values, each list counted at its largest (LIST_BOUNDS) and every
 * alias and fragment spread where it is used, so that no aliasing multiplies the reply past the
 * bound. A fragment already on the path is not followed again (validation then reports the
 * cycle), and the walk stops at the first limit passed.
 */
function sizeProblem(document: DocumentNode, operation: OperationDefinitionNode): string | undefined {
  let values = 0;
  let deepest = 0;
  const fragments = new Map<string, SelectionSetNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d.selectionSet);
  const walk = (set: SelectionSetNode, depth: number, times: number, path: ReadonlySet<string>): boolean => {
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_DEPTH) return false;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        values += times;
        if (values > MAX_VALUES) return false;
        const inner = times * (LIST_BOUNDS[selection.name.value] ?? 1);
        if (selection.selectionSet && !walk(selection.selectionSet, depth + 1, inner, path)) return false;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (!walk(selection.selectionSet, depth, times, path)) return false;
      } else if (!path.has(selection.name.value)) {
        const spread = fragments.get(selection.name.value);
        if (spread && !walk(spread, depth, times, new Set([...path, selection.name.value]))) return false;
      }
    }
    return true;
  };
  walk(operation.selectionSet, 1, 1, new Set());
  if (deepest > MAX_DEPTH) return `the query nests deeper than ${MAX_DEPTH} levels`;
  if (values > MAX_VALUES) return `the query could return more than ${MAX_VALUES} values (each list counted at its largest: 100 entities, 36 contributions)`;
  return undefined;
}

/** A request understood far enough to be counted, and how to answer it. */
interface Prepared {
  operation: string;
  answer: () => Promise<Reply>;
}

/** Parses a POST to /graphql as far as the operation, without executing anything. */
function prepareGraphql(schema: GraphQLSchema, req: http.IncomingMessage, text: string | undefined): Prepared {
  const invalid = (reply: Reply): Prepared => ({ operation: HOUSING_FUND_OPERATIONS.invalid, answer: () => Promise.resolve(reply) });
  if (text === undefined) return invalid(requestError(413, `the request body is larger than ${MAX_BODY_BYTES} bytes`, 'PAYLOAD_TOO_LARGE'));
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType !== 'application/json') {
    return invalid(requestError(415, 'the request must be JSON: content-type application/json with {"query", "variables"?, "operationName"?}', 'UNSUPPORTED_MEDIA_TYPE'));
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return invalid(requestError(400, 'the request body is not valid JSON', 'BAD_REQUEST'));
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return invalid(requestError(400, 'the request body must be a JSON object {"query", "variables"?, "operationName"?}', 'BAD_REQUEST'));
  const { query, variables, operationName } = body as { query?: unknown; variables?: unknown; operationName?: unknown };
  if (typeof query !== 'string' || query.length === 0) return invalid(requestError(400, '"query" must be a non-empty string holding the GraphQL document', 'BAD_REQUEST'));
  if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) {
    return invalid(requestError(400, '"variables" must be a JSON object', 'BAD_REQUEST'));
  }
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return invalid(requestError(400, '"operationName" must be a string', 'BAD_REQUEST'));
  let document: DocumentNode;
  try {
    document = parse(query, { maxTokens: MAX_TOKENS });
  } catch (error) {
    // graphql-js parses recursively: a document nested thousands deep exhausts the stack.
    const message = error instanceof GraphQLError ? error.message : error instanceof RangeError ? `the query nests too deeply to be parsed (at most ${MAX_DEPTH} levels are served)` : 'the query could not be parsed';
    return invalid(requestError(400, message, 'GRAPHQL_PARSE_FAILED'));
  }
  const operation = getOperationAST(document, operationName ?? undefined);
  if (!operation) {
    return invalid(requestError(400, operationName ? `no operation named "${operationName}" in the document` : 'the document must hold exactly one operation, or name one with "operationName"', 'BAD_REQUEST'));
  }
  const roots = rootFieldNames(document, operation);
  return {
    operation: roots[0] ?? '__typename',
    answer: async () => {
      const tooLarge = sizeProblem(document, operation);
      if (tooLarge !== undefined) return requestError(400, tooLarge, 'QUERY_TOO_LARGE');
      const errors = validate(schema, document);
      if (errors.length > 0) return { status: 400, body: JSON.stringify({ errors: errors.map((e) => ({ ...e.toJSON(), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })) }) };
      const result = await execute({ schema, document, operationName: operationName ?? undefined, variableValues: (variables ?? undefined) as Record<string, unknown> | undefined });
      return { status: 200, body: JSON.stringify(result) };
    },
  };
}

/**
 * Creates the request listener: the kit's control routes first (never faulted), then the
 * request is read and counted under its operation, then the kit's faults (`down`, latency,
 * `slow`, the error rate) apply, then it is answered. In `malformed` mode the reply is the real
 * one cut in half behind a 200: JSON that does not end, never a GraphQL response.
 */
export function createHousingFundHandler(schema: GraphQLSchema, control: SandboxControl): http.RequestListener {
  function send(res: http.ServerResponse, reply: Reply): void {
    let { status, body } = reply;
    if (control.faults.mode === 'malformed') {
      status = 200;
      body = body.slice(0, Math.max(1, body.length >> 1));
    }
    res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body), ...reply.headers });
    res.end(body);
  }

  function serve(req: http.IncomingMessage, res: http.ServerResponse, prepared: Prepared): void {
    control.count(prepared.operation);
    withFaults(control, (_req, rs) => {
      prepared.answer().then(
        (reply) => send(rs, reply),
        // Nothing above should throw; if it does, the client still gets JSON, never a dropped socket.
        () => send(rs, requestError(500, 'internal error', 'INTERNAL_SERVER_ERROR')),
      );
    })(req, res);
  }

  return (req, res) => {
    if (serveControl(control, req, res)) return;
    // A client that resets mid-request must not take the process down.
    req.on('error', () => res.destroy());
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path !== HOUSING_FUND_GRAPHQL_PATH) {
      req.resume();
      serve(req, res, { operation: HOUSING_FUND_OPERATIONS.unknown, answer: () => Promise.resolve(requestError(404, `no such route; GraphQL is served at POST ${HOUSING_FUND_GRAPHQL_PATH}`, 'NOT_FOUND')) });
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      serve(req, res, { operation: HOUSING_FUND_OPERATIONS.unknown, answer: () => Promise.resolve(requestError(405, `use POST for ${HOUSING_FUND_GRAPHQL_PATH}`, 'METHOD_NOT_ALLOWED', { allow: 'POST' })) });
      return;
    }
    readBody(req).then(
      (text) => serve(req, res, prepareGraphql(schema, req, text)),
      () => res.destroy(),
    );
  };
}
