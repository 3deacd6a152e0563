import type { AuditChange, SubjectRef } from '../audit';
import type { CaseChange } from '../cases';
import type { AllowedDecision } from '../policy';
import type { HubContext } from '../sdk';
import type { OnBehalfOf } from '../seal';
import type { SealRegistry } from './seals';

/** The authenticated caller of a request: a registered consumer, and why it asks. */
export interface Caller {
  readonly consumer: string;
  readonly roles: readonly string[];
  /** 事由 */
  readonly purpose: string;
  /** 办件编号 */
  readonly caseNumber: string;
  /** 经办人 */
  readonly operator: string;
  /** The one-time id of the signed request. */
  readonly requestTokenId: string;
  /**
   * A peer hub's request (its consumer has the `federation-peer` role): the original consumer at
   * that hub, that hub's request id and the federation request id, from the token's `obo` claim.
   * Recorded, never authorised: the policy decides for `consumer` (the peer hub) as for anyone.
   */
  readonly onBehalfOf?: OnBehalfOf;
}

/** The context of one request in the gateway: the SDK context plus who asks, the policy decision and the seals made. */
export interface RequestContext extends HubContext {
  /** Null in the unauthenticated sandbox mode. */
  readonly caller: Caller | null;
  readonly decision: AllowedDecision | null;
  readonly seals: SealRegistry;
  /** Every person, enterprise and property the reply carries, by `KIND:id` (subjects.ts). */
  readonly replySubjects: Map<string, SubjectRef>;
  /** Response paths whose values the execution schema masked (for `extensions.masked`). */
  readonly maskedPaths: (readonly (string | number)[])[];
  /** The state changes the request's mutations made (pushed cases), in order: its access record carries them. */
  caseChanges?: CaseChange[];
  /** The other state changes its mutations made (a proof issued), as its access record keeps them. */
  auditChanges?: AuditChange[];
  /**
   * Set when the request asks a peer hub (src/gateway/federation): the id its access record and
   * the peer's record of the call share (the `obo` claim's `federation`).
   */
  federationRequestId?: string;
}
