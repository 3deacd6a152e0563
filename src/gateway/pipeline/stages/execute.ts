/**
 * Execution, with graphql-js directly (not Apollo Server's `executeOperation`, which would print
 * and parse the document again): the document executed is the very node the validation and the
 * policy checked. Each request gets its own loaders (one batched call per department per level)
 * and the request's signal, which also aborts at the request's deadline.
 */
import { execute, type GraphQLSchema } from 'graphql';
import { clientCode, HubError, HubErrorCode, isDeadlineAbort } from '../../../sdk';
import type { RequestContext } from '../../request-context';
import type { Flow, GatewayReply } from '../types';

/** Where execution reports errors that are not the hub's own (bugs); never with values. */
export type UnexpectedErrorReporter = (error: unknown, path: readonly (string | number)[] | undefined) => void;

/** A field error as the reply carries it. */
interface FormattedError {
  message: string;
  locations?: readonly { line: number; column: number }[];
  path?: readonly (string | number)[];
  extensions: Record<string, unknown>;
}

function formatFieldError(error: HubError | { message: string; locations?: readonly { line: number; column: number }[]; path?: readonly (string | number)[]; originalError?: unknown }, report: UnexpectedErrorReporter): FormattedError {
  const original = (error as { originalError?: unknown }).originalError;
  const where = { ...(error.locations ? { locations: error.locations } : {}), ...(error.path ? { path: error.path } : {}) };
  if (original instanceof HubError && clientCode(original.code) === original.code) return { message: original.message, ...where, extensions: { ...original.extensions } };
  if (original === undefined || original === null) {
    // graphql-js's own errors during execution: variables that do not coerce, a non-null field that is null.
    return { message: error.message, ...where, extensions: { code: HubErrorCode.BAD_USER_INPUT } };
  }
  report(original, error.path);
  return { message: 'Internal server error', ...where, extensions: { code: HubErrorCode.INTERNAL_SERVER_ERROR } };
}

export function executeStage(options: { schema: GraphQLSchema; createContext(flow: Flow): RequestContext; report: UnexpectedErrorReporter }): (flow: Flow) => Promise<GatewayReply> {
  return async (flow) => {
    // The deadline passed before execution could start (a slow replay guard, say): nothing to run.
    if (isDeadlineAbort(flow.signal)) throw flow.signal.reason as HubError;
    // An authenticated caller runs only under an allowed decision (its masking schema): never the bare schema.
    if (flow.caller && !flow.allowed) throw new HubError(HubErrorCode.INTERNAL_SERVER_ERROR, 'The operation has no allowed decision.');
    const context = options.createContext(flow);
    flow.context = context;
    const body = flow.body!;
    const result = await execute({
      schema: flow.allowed?.schema ?? options.schema,
      document: flow.document!,
      variableValues: body.variables,
      operationName: body.operationName || undefined,
      contextValue: context,
      ...(flow.rootValue !== undefined ? { rootValue: flow.rootValue } : {}),
    });
    // No data at all: the variables did not coerce, or the operation could not start; the request is refused.
    if (!('data' in result) || result.data === undefined) {
      const first = result.errors?.[0];
      throw new HubError(HubErrorCode.BAD_REQUEST, first?.message ?? 'The operation could not be executed.', first?.locations ? { locations: first.locations } : {});
    }
    const reply: GatewayReply = { data: result.data as Record<string, unknown> | null };
    if (result.errors && result.errors.length > 0) reply.errors = result.errors.map((e) => formatFieldError(e, options.report));
    return reply;
  };
}
