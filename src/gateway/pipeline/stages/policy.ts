/**
 * The sharing policy, before any department is asked: every field coordinate the operation reads
 * must be granted to the consumer for its purpose. A denial refuses the whole operation
 * (POLICY_DENIED, 403) and lists at most MAX_DENIED_LISTED coordinates, with `deniedCount` saying
 * how many there were. Introspection is decided here too: the engine answers it from the caller's
 * own view of the schema (`decision.schema`), so an introspecting consumer sees its grants and the
 * catalogue only. The granted operation goes on to the consent stage, the only way to an allowed
 * decision.
 */
import { HubError, HubErrorCode } from '../../../sdk';
import type { DeniedDecision, PolicyEngine } from '../../../policy';
import type { Flow } from '../types';

/** The most denied coordinates (and missing consents) a refusal lists. */
export const MAX_DENIED_LISTED = 50;

/** The refusal of a denied decision, its lists cut to MAX_DENIED_LISTED. */
export function deniedError(decision: DeniedDecision): HubError {
  const { denied, missingConsent } = decision;
  const listed = denied.slice(0, MAX_DENIED_LISTED);
  const more = denied.length - listed.length;
  let message = decision.error.message;
  if (more > 0) {
    // The engine's message names every coordinate; past the cap it is rebuilt around the listed ones.
    const head = message.slice(0, message.indexOf('The sharing policy denies'));
    message = `${head}The sharing policy denies ${listed.join(', ')} and ${more} more to this consumer for this purpose.`;
  }
  return new HubError(HubErrorCode.POLICY_DENIED, message, {
    denied: listed,
    deniedCount: denied.length,
    ...(missingConsent.length > 0 ? { missingConsent: missingConsent.slice(0, MAX_DENIED_LISTED).map((m) => ({ ...m })), missingConsentCount: missingConsent.length } : {}),
  });
}

export function policyStage(policy: PolicyEngine): (flow: Flow) => void {
  return (flow) => {
    const caller = flow.caller;
    if (!caller) return;
    const body = flow.body!;
    const outcome = policy.authorize({
      consumer: caller.consumer,
      purpose: caller.purpose,
      document: flow.document!,
      operationName: body.operationName || null,
      variables: body.variables,
    });
    if (outcome.allowed === false) {
      flow.decision = outcome;
      throw deniedError(outcome);
    }
    flow.granted = outcome;
  };
}
