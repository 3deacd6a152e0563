/**
 * Who asks, and why: the signed request token is checked over the exact body bytes (signature,
 * key, time window, body hash), before anything of the body is parsed. The replay guard comes
 * later (after the rate limit), so an unsigned request can neither burn an id nor spend a budget.
 *
 * The one other way in is a console session (`request.session`): a server-side session opened
 * by exchanging a one-time sign-in token signed with the consumer's registered key. The session's
 * consumer, roles and operator become the caller, with the purpose and case the request states;
 * every later stage (rate limit, policy, consent, record, receipt) treats it like a signed request.
 *
 * A token's `obo` claim (a request on behalf of another hub's consumer, docs/federation.md) is
 * accepted from a peer hub only (`isFederationPeer`: the policy's `federation-peer` role); from
 * any other consumer it is refused (POLICY_DENIED, reason OBO_NOT_ALLOWED) and recorded.
 */
import { HubError, HubErrorCode } from '../../../sdk';
import { claimTextProblem, missingRequestTokenMessage, readRequestToken, UnauthenticatedError, type RequestVerifier } from '../../../seal';
import { CONSOLE_PURPOSES, type ConsoleSession } from '../../console-sessions';
import type { Flow } from '../types';

/** Finds a live console session by its id (moving its idle expiry on). */
export interface SessionLookup {
  use(id: string): ConsoleSession | undefined;
}

const MAX_CLAIM_LENGTH = 256;

/** Whether a consumer is a peer hub (the sharing policy's `federation-peer` role): the only consumers that may sign an `obo` claim. */
export type FederationPeerTest = (consumer: string) => boolean;

export function authenticateStage(verifier: RequestVerifier, security: 'signed' | 'open', sessions?: SessionLookup, isFederationPeer: FederationPeerTest = () => false): (flow: Flow) => void {
  return (flow) => {
    if (security === 'open') {
      flow.authenticated = true;
      return;
    }
    const { session: stated } = flow.request;
    if (stated !== undefined) {
      if (flow.request.authorization !== undefined) throw new UnauthenticatedError('MALFORMED', 'a console request carries its session, not a request token');
      const session = sessions?.use(stated.id);
      if (!session) throw new UnauthenticatedError('NO_SESSION', 'console session is unknown, expired or signed out');
      flow.caller = {
        consumer: session.consumer,
        roles: session.roles,
        purpose: stated.purpose,
        caseNumber: stated.caseNumber,
        operator: session.operator,
        // No token: the request's own id stands for it.
        requestTokenId: `console:${flow.requestId}`,
      };
      flow.authenticated = true;
      // Refused after authentication, so recorded with the session's consumer.
      if (!CONSOLE_PURPOSES.has(stated.purpose)) throw new HubError(HubErrorCode.POLICY_DENIED, `A console session may state only the purposes ${[...CONSOLE_PURPOSES].join(', ')}.`, { purpose: stated.purpose.slice(0, 64) });
      if (stated.caseNumber.length === 0 || stated.caseNumber.length > MAX_CLAIM_LENGTH) throw new HubError(HubErrorCode.BAD_REQUEST, `A console request states a case number of 1 to ${MAX_CLAIM_LENGTH} characters.`);
      const caseProblem = claimTextProblem(stated.caseNumber);
      if (caseProblem) throw new HubError(HubErrorCode.BAD_REQUEST, `A console request's case number ${caseProblem}.`);
      return;
    }
    const token = readRequestToken(flow.request.authorization);
    // A header the hub cannot take a token from is refused as MISSING, saying what it carries instead.
    if (token === undefined) throw new UnauthenticatedError('MISSING', missingRequestTokenMessage(flow.request.authorization));
    const verified = verifier.authenticate(token, flow.request.body ?? Buffer.alloc(0));
    flow.verified = verified;
    flow.caller = {
      consumer: verified.consumer,
      roles: verified.roles,
      purpose: verified.claims.purpose,
      caseNumber: verified.claims.case,
      operator: verified.claims.operator,
      requestTokenId: verified.claims.jti,
      ...(verified.claims.obo ? { onBehalfOf: verified.claims.obo } : {}),
    };
    flow.authenticated = true;
    // Refused after authentication, so recorded with the consumer that tried (and on whose behalf it said).
    if (verified.claims.obo && !isFederationPeer(verified.consumer)) {
      throw new HubError(HubErrorCode.POLICY_DENIED, `Only a peer hub (a consumer with the "federation-peer" role in the sharing policy) may make a request on behalf of another hub's consumer; "${verified.consumer}" is not one.`, { reason: 'OBO_NOT_ALLOWED' });
    }
  };
}
