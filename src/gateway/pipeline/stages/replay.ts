/**
 * The replay guard: a signed request's one-time id is remembered (in Redis when instances share
 * state) and a second use refused. It fails closed: when the id cannot be checked, the request is
 * refused with REPLAY_GUARD_UNAVAILABLE (503, retry later), never executed unchecked.
 */
import { HubError, HubErrorCode, type ErrorCode } from '../../../sdk';
import type { RequestVerifier } from '../../../seal';
import { ReplayGuardUnavailableError } from '../../../state';
import type { Flow } from '../types';

export function replayStage(verifier: RequestVerifier, onUnavailable: (error: ReplayGuardUnavailableError, flow: Flow) => void): (flow: Flow) => Promise<void> {
  return async (flow) => {
    if (!flow.verified) return;
    try {
      await verifier.remember(flow.verified);
    } catch (error) {
      if (!(error instanceof ReplayGuardUnavailableError)) throw error;
      onUnavailable(error, flow);
      throw new HubError(HubErrorCode.REPLAY_GUARD_UNAVAILABLE, 'The replay guard is unavailable: the request cannot be checked and is refused; retry later.', { reason: error.code });
    }
  };
}
