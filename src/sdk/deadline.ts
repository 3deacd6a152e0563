import { HubError, HubErrorCode } from './errors';

/**
 * The reason a request's signal aborts when its deadline passes: one deadline per request, shared
 * by every department call it makes. Connectors that see it report CONNECTOR_TIMEOUT for their
 * own department (see `abortFailure`); the request as a whole is not refused.
 */
export class DeadlineExceededError extends HubError {
  constructor(readonly deadlineMs: number) {
    super(HubErrorCode.DEADLINE_EXCEEDED, `The request did not complete within its deadline of ${deadlineMs} ms.`, { deadlineMs });
  }
}

/** True when a signal was aborted because its request's deadline passed. */
export function isDeadlineAbort(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true && signal.reason instanceof DeadlineExceededError;
}
