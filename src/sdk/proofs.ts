/**
 * Proofs 无证明: statements a department vouches for about one subject (无欠税, 无房, 社保缴费…),
 * issued by the hub as SD-JWT VCs signed with the department's own key. A connector declares the
 * kinds it can establish (`ConnectorModule.proofs`) and establishes one by asking its department
 * directly (`Connector.proofs.establish`): never a cache, so the proof states the moment the
 * department answered. The hub turns the facts into the proof; the connector never signs.
 */
import { BadUserInputError } from './errors';
import type { DepartmentEvent, EventSubjectKind } from './events';
import { citizenIdProblem, creditCodeProblem } from './identifiers';

/** A proof kind a connector declares: its name in the graph (`ProofKind`), what it states, how long it holds. */
export interface ProofKindSpec {
  /** SCREAMING_SNAKE_CASE, unique across the hub: `NO_TAX_ARREARS`. */
  readonly kind: string;
  /** The document's name as printed, Chinese first: "无欠税证明 Certificate of no tax arrears". */
  readonly title: string;
  /** The kind of subject it is about (the first of `subjects` when there are several). */
  readonly subject: EventSubjectKind;
  /** Every kind of subject it may be about (a taxpayer is a person or an enterprise). @default [subject] */
  readonly subjects?: readonly EventSubjectKind[];
  /** One sentence: what the proof states, in English with the Chinese term. */
  readonly description: string;
  /** How long a proof of this kind is valid after issuance, in days (1 to 366). */
  readonly validityDays: number;
  /**
   * Event types of the same connector that change the fact: an event of one of these types about
   * a proof's subject revokes the proof (its status list entry turns INVALID). @default none
   */
  readonly revokedBy?: readonly string[];
  /**
   * What the printed page and /verify call each top-level claim, Chinese first: `{ hasArrears:
   * '是否欠税 Arrears' }`. A claim without a label is shown under its name. @default none
   */
  readonly claimLabels?: Readonly<Record<string, string>>;
}

/** What the department answered for one proof. */
export interface ProofFacts {
  /** When the department answered (RFC 3339, with offset): the proof's "as of". */
  readonly asOf: string;
  /**
   * Whether the statement holds for the subject: a proof is issued only when it does (a person with
   * arrears gets no 无欠税证明; the refusal names `reason`).
   */
  readonly holds: boolean;
  /** Why the statement does not hold, in words an official can read, without personal data. */
  readonly reason?: string;
  /**
   * The proof's claims, each a top-level name the holder may disclose or withhold (JSON values:
   * strings, numbers, booleans, arrays and objects of them). A negative statement says what was
   * searched: `{ registry: "…", propertiesFound: 0 }`.
   */
  readonly claims: Readonly<Record<string, unknown>>;
  /**
   * Other subjects the statement rests on, whose revoking events revoke the proof too: the units a
   * 不动产登记信息 lists (a mortgage on one changes it). @default none
   */
  readonly dependsOn?: readonly { readonly kind: EventSubjectKind; readonly id: string }[];
}

/** A subject as proofs name it. */
export interface ProofSubject {
  readonly kind: EventSubjectKind;
  readonly id: string;
}

/** The connector side of proofs: establishes a kind it declared for one subject. */
export interface ProofEstablisher {
  /**
   * Asks the department, now and directly (no cache), whether the kind's statement holds for the
   * subject, and what it shows. A malformed subject identifier is a BAD_USER_INPUT HubError; a
   * department that cannot answer throws its connector error (CONNECTOR_UNAVAILABLE, …) like any call.
   */
  establish(kind: string, subject: ProofSubject, signal: AbortSignal): Promise<ProofFacts>;
  /**
   * The subjects, besides the event's own, whose facts one of the module's events changes: a
   * transfer of a unit gives its new owners property (their 无房证明 no longer holds). The hub
   * revokes every live proof of a kind the event's type revokes whose subject, or one of whose
   * `dependsOn`, is among them. May ask the department. @default the event's subject only
   */
  affectedSubjects?(event: DepartmentEvent, signal: AbortSignal): Promise<readonly ProofSubject[]>;
}

/** Proof kind names: SCREAMING_SNAKE_CASE, 3 to 64 characters (the event types' rule). */
export const PROOF_KIND_PATTERN = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/;

/** Now (or `ms`) in China Standard Time with its offset, to the second (`2026-05-01T10:00:00+08:00`): a proof's `asOf` as departments state times. */
export function chinaTime(ms: number = Date.now()): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 19) + '+08:00';
}

/**
 * The identifier of a proof's subject, checked before any department call: a citizen identity
 * number (`idNumber`) for a PERSON, a unified social credit code (`creditCode`) for an ENTERPRISE,
 * of the kinds `allowed` for the proof kind; anything else a BAD_USER_INPUT naming the argument.
 */
export function proofSubjectId(kind: string, subject: ProofSubject, allowed: readonly ('PERSON' | 'ENTERPRISE')[]): string {
  const rule = subject?.kind === 'PERSON' ? { argument: 'idNumber', problemOf: citizenIdProblem } : subject?.kind === 'ENTERPRISE' ? { argument: 'creditCode', problemOf: creditCodeProblem } : undefined;
  if (!rule || !allowed.includes(subject.kind as 'PERSON' | 'ENTERPRISE')) throw new BadUserInputError('subject.kind', `must be ${allowed.join(' or ')} for ${kind}, but got: ${JSON.stringify(subject?.kind)}`);
  if (typeof subject.id !== 'string') throw new BadUserInputError(rule.argument, 'must be a string');
  const problem = rule.problemOf(subject.id);
  if (problem !== undefined) throw new BadUserInputError(rule.argument, problem);
  return subject.id;
}
