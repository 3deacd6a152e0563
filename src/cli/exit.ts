/**
 * The exit codes of `datarun` (CLI_EXIT in src/sdk/error-codes.ts, the table in README.md): from
 * a hub reply, through the registry entry of its first error code, and from an error a command threw.
 */
import { CommanderError } from 'commander';
import { CLI_EXIT, ERROR_CODES, HubError, isErrorCode, type CliExitCode } from '../sdk';

/** The command was called wrongly: a missing or unusable argument (exit 2). */
export class CliUsageError extends HubError {
  declare readonly code: 'CLI_USAGE';

  constructor(message: string) {
    super('CLI_USAGE', message);
  }
}

/** What `exitCodeOfReply` reads of a hub reply. */
export interface ReplyOutcome {
  readonly status: number;
  readonly data?: unknown;
  readonly errors?: readonly { readonly extensions?: { readonly code?: unknown } }[] | undefined;
}

/** The exit code an HTTP status means when the reply names no code of the contract. */
function exitCodeOfStatus(status: number, hasData: boolean): CliExitCode {
  if (status === 200) return hasData ? CLI_EXIT.PARTIAL : CLI_EXIT.INTERNAL;
  if (status === 502 || status === 503 || status === 504) return CLI_EXIT.UNAVAILABLE;
  if (status >= 400 && status < 500) return CLI_EXIT.REFUSED;
  return CLI_EXIT.INTERNAL;
}

/**
 * The exit code of a hub reply: 0 without errors; otherwise the `cliExitCode` of its first
 * error's code (partial data for a field-level code, refused or unavailable for a request-level
 * one). A code the registry does not know, or one whose status is not the reply's, goes by the
 * HTTP status instead.
 */
export function exitCodeOfReply(reply: ReplyOutcome): CliExitCode {
  const hasData = reply.data !== null && reply.data !== undefined;
  const first = reply.errors?.[0];
  if (!first) return reply.status === 200 ? CLI_EXIT.OK : exitCodeOfStatus(reply.status, hasData);
  const code = first.extensions?.code;
  if (isErrorCode(code)) {
    const info = ERROR_CODES[code];
    if (info.httpStatus === reply.status) return info.cliExitCode;
  }
  return exitCodeOfStatus(reply.status, hasData);
}

/** File-system failures that mean a file named on the command line cannot be read or written. */
const FILE_ERRNOS = new Set(['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ENAMETOOLONG']);

/**
 * The exit code of an error a command threw: 0 for help and version, 2 for commander's usage
 * errors and unreadable files, the registry's `cliExitCode` for a coded error, 1 otherwise.
 */
export function exitCodeOfError(error: unknown): CliExitCode {
  if (error instanceof CommanderError) return error.exitCode === 0 ? CLI_EXIT.OK : CLI_EXIT.USAGE;
  const code = (error as { code?: unknown } | null | undefined)?.code;
  if (isErrorCode(code)) return ERROR_CODES[code].cliExitCode;
  if (typeof code === 'string' && FILE_ERRNOS.has(code)) return CLI_EXIT.USAGE;
  return CLI_EXIT.INTERNAL;
}
