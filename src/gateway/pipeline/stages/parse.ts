/**
 * Reading the request: the JSON body (its shape; variables nested at most MAX_VARIABLE_DEPTH
 * levels, their texts well-formed Unicode and their numbers finite), automatic persisted queries,
 * and the GraphQL document, parsed within the caller's limits (document bytes and token count are
 * bounded inside the parse, so a huge or deeply nested document costs nothing more than its
 * refusal). Parsed documents are kept in a cache bounded by bytes; persisted queries in another.
 */
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { GraphQLError, type DocumentNode } from 'graphql';
import { createByteLru, HubError, HubErrorCode, type ByteLru } from '../../../sdk';
import { isWellFormed } from '../../../seal';
import { parseBounded, type QueryLimits } from '../../limits';
import type { Flow, GraphQLBody } from '../types';

/** How deep `variables` may nest (an id list is 2 levels). */
export const MAX_VARIABLE_DEPTH = 32;

/** Defaults of the parse stage's caches, in bytes. */
export const DEFAULT_PARSE_CACHES = { documentBytes: 16 * 1024 * 1024, persistedQueryBytes: 8 * 1024 * 1024 } as const;

const badRequest = (message: string): HubError => new HubError(HubErrorCode.BAD_REQUEST, message);

/** A key a variables path shows as `.name`; any other key shows as `[…]` (the message never echoes odd text). */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** A container met while the variables are read, and how it was reached (for the message of a refusal). */
interface Visit {
  readonly value: unknown;
  readonly depth: number;
  readonly parent: Visit | undefined;
  readonly key: string | number | undefined;
}

function pathOf(visit: Visit, key?: string | number): string {
  const parts: string[] = [];
  const segment = (k: string | number): string => (typeof k === 'number' ? `[${k}]` : PLAIN_KEY.test(k) ? `.${k}` : '[…]');
  if (key !== undefined) parts.push(segment(key));
  for (let v: Visit | undefined = visit; v?.key !== undefined; v = v.parent) parts.push(segment(v.key));
  return `variables${parts.reverse().join('')}`;
}

/**
 * Reads the variables once, iteratively (a value nested 100 000 levels must not overflow the
 * stack): at most `max` levels deep, every text well-formed Unicode (JSON's `\ud800` escapes
 * can spell a lone surrogate, which no canonical hash, receipt or record can carry), every
 * number finite (`1e400` parses as Infinity). The first problem is refused, naming its place.
 */
function checkVariables(variables: object, max: number): void {
  const stack: Visit[] = [{ value: variables, depth: 1, parent: undefined, key: undefined }];
  const member = (visit: Visit, key: string | number, value: unknown): void => {
    if (typeof value === 'string') {
      if (!isWellFormed(value)) throw badRequest(`"${pathOf(visit, key)}" is not well-formed Unicode (it holds a lone surrogate).`);
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw badRequest(`"${pathOf(visit, key)}" is a number beyond the range of a double.`);
    } else if (value !== null && typeof value === 'object') {
      stack.push({ value, depth: visit.depth + 1, parent: visit, key });
    }
  };
  while (stack.length > 0) {
    const visit = stack.pop()!;
    if (visit.depth > max) throw badRequest(`"variables" nest deeper than ${max} levels.`);
    const container = visit.value as Record<string, unknown> | unknown[];
    if (Array.isArray(container)) {
      for (let i = 0; i < container.length; i++) member(visit, i, container[i]);
    } else {
      for (const key of Object.keys(container)) {
        if (!isWellFormed(key)) throw badRequest(`A name in "${pathOf(visit)}" is not well-formed Unicode (it holds a lone surrogate).`);
        member(visit, key, container[key]);
      }
    }
  }
}

/** The persisted-query extension of a body, when it has one. */
interface PersistedQuery {
  readonly sha256Hash: string;
}

function readBody(raw: Buffer): { query: string | undefined; variables: Record<string, unknown>; operationName: string | null; persisted: PersistedQuery | undefined } {
  // Decoding would turn bytes that are not UTF-8 into U+FFFD: a changed value, never noticed.
  if (!isUtf8(raw)) throw badRequest('The request body is not valid UTF-8.');
  // RFC 8259 §8.1: a networked JSON text carries no byte-order mark; named, since "not valid JSON" would not say why.
  if (raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) throw badRequest('The request body starts with a byte-order mark (U+FEFF): send the JSON without it.');
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    // A body nested beyond the JSON parser's own stack is as malformed as one that is not JSON.
    throw badRequest(error instanceof RangeError ? 'The request body nests too deeply.' : 'The request body is not valid JSON.');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The request body must be a JSON object with "query".');
  const { query, variables, operationName, extensions } = body as Record<string, unknown>;
  if (query !== undefined && query !== null && typeof query !== 'string') throw badRequest('"query" must be a string.');
  if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) throw badRequest('"variables" must be a JSON object.');
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') throw badRequest('"operationName" must be a string.');
  if (extensions !== undefined && extensions !== null && (typeof extensions !== 'object' || Array.isArray(extensions))) throw badRequest('"extensions" must be a JSON object.');
  let persisted: PersistedQuery | undefined;
  const apq = (extensions as Record<string, unknown> | null | undefined)?.persistedQuery;
  if (apq !== undefined && apq !== null) {
    const { version, sha256Hash } = apq as Record<string, unknown>;
    if (version !== 1) throw new HubError(HubErrorCode.PERSISTED_QUERY_NOT_SUPPORTED, 'Only version 1 of automatic persisted queries is supported.');
    if (typeof sha256Hash !== 'string' || !/^[0-9a-f]{64}$/.test(sha256Hash)) throw badRequest('"extensions.persistedQuery.sha256Hash" must be 64 lower-case hex digits.');
    persisted = { sha256Hash };
  }
  return {
    query: typeof query === 'string' ? query : undefined,
    variables: (variables ?? {}) as Record<string, unknown>,
    operationName: typeof operationName === 'string' ? operationName : null,
    persisted,
  };
}

/** What the parse stage needs: the caller's limits. */
export interface ParseStageOptions {
  limitsOf(flow: Flow): QueryLimits;
  /** @default DEFAULT_PARSE_CACHES */
  caches?: { documentBytes: number; persistedQueryBytes: number };
}

/** The parse stage and its caches (exposed for metrics and tests). */
export interface ParseStage {
  (flow: Flow): void;
  readonly documents: ByteLru<string, DocumentNode>;
  readonly persistedQueries: ByteLru<string, string>;
}

export function parseStage(options: ParseStageOptions): ParseStage {
  const budgets = options.caches ?? DEFAULT_PARSE_CACHES;
  // A parsed document holds several times its text in AST nodes.
  const documents = createByteLru<string, DocumentNode>({ maxBytes: budgets.documentBytes, sizeOf: (key) => 200 + key.length * 8 });
  const persistedQueries = createByteLru<string, string>({ maxBytes: budgets.persistedQueryBytes, sizeOf: (key, value) => 100 + key.length + value.length * 2 });

  const stage = (flow: Flow): void => {
    const read = readBody(flow.request.body ?? Buffer.alloc(0));
    let query = read.query;
    if (read.persisted) {
      const { sha256Hash } = read.persisted;
      if (query === undefined) {
        query = persistedQueries.get(sha256Hash);
        if (query === undefined) throw new HubError(HubErrorCode.PERSISTED_QUERY_NOT_FOUND, 'PersistedQueryNotFound');
      } else {
        if (createHash('sha256').update(query, 'utf8').digest('hex') !== sha256Hash) {
          throw new HubError(HubErrorCode.PERSISTED_QUERY_HASH_MISMATCH, 'The query does not match "extensions.persistedQuery.sha256Hash".');
        }
        // A text refused below is not kept to be refused again by its hash.
        if (isWellFormed(query)) persistedQueries.set(sha256Hash, query);
      }
    }
    if (query === undefined) throw badRequest('The request body needs a "query" string.');
    const body: GraphQLBody = { query, variables: read.variables, operationName: read.operationName };
    // Kept before the checks below: the record of a refused body still holds its operation name (hashed when it cannot be stored as given).
    flow.body = body;
    if (!isWellFormed(query)) throw badRequest('"query" is not well-formed Unicode (it holds a lone surrogate).');
    if (body.operationName !== null && !isWellFormed(body.operationName)) throw badRequest('"operationName" is not well-formed Unicode (it holds a lone surrogate).');
    checkVariables(body.variables, MAX_VARIABLE_DEPTH);
    const limits = options.limitsOf(flow);
    const key = `${limits.maxDocumentBytes}:${limits.maxTokens}:${query}`;
    let document = documents.get(key);
    if (document === undefined) {
      try {
        document = parseBounded(query, limits);
      } catch (error) {
        if (error instanceof HubError) throw error;
        if (error instanceof GraphQLError) {
          throw new HubError(HubErrorCode.GRAPHQL_PARSE_FAILED, error.message, error.locations ? { locations: error.locations } : {});
        }
        throw error;
      }
      documents.set(key, document);
    }
    flow.document = document;
  };
  return Object.assign(stage, { documents, persistedQueries });
}
