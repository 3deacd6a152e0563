/**
 * Consent, after the grants: when the purpose requires it (a living-allowance check, say), every
 * person the operation names must have consented, through a token a consent issuer signed (not
 * the consumer itself; within the policy's lifetime; one-time tokens spent here)
 * (`x-datarun-consent`). Missing, expired or foreign consents refuse the operation (POLICY_DENIED,
 * 403, `missingConsent`). This stage makes the only allowed decision execution accepts.
 */
import { consentTokensFromHeader } from '../../../policy';
import type { Flow } from '../types';
import { deniedError } from './policy';

export async function consentStage(flow: Flow): Promise<void> {
  const granted = flow.granted;
  if (!granted) return;
  const decision = await granted.consent(granted.requiresConsent ? consentTokensFromHeader(flow.request.consent) : []);
  flow.decision = decision;
  if (!decision.allowed) throw deniedError(decision);
  flow.allowed = decision;
}
