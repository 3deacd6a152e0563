/**
 * Who asks, and why: the signed request token is checked over the exact body bytes (signature,
 * key, time window, body hash), before anything of the body is parsed. The replay guard comes
 * later (after the rate limit), so an unsigned request can neither burn an id nor spend a budget.
 */
import { readRequestToken, type RequestVerifier } from '../../../seal';
import type { Flow } from '../types';

export function authenticateStage(verifier: RequestVerifier, security: 'signed' | 'open'): (flow: Flow) => void {
  return (flow) => {
    if (security === 'open') {
      flow.authenticated = true;
      return;
    }
    const verified = verifier.authenticate(readRequestToken(flow.request.authorization), flow.request.body ?? Buffer.alloc(0));
    flow.verified = verified;
    flow.caller = {
      consumer: verified.consumer,
      roles: verified.roles,
      purpose: verified.claims.purpose,
      caseNumber: verified.claims.case,
      operator: verified.claims.operator,
      requestTokenId: verified.claims.jti,
    };
    flow.authenticated = true;
  };
}
