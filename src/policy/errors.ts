import { HubError, HubErrorCode } from '../sdk';

/**
 * Why a person subject's consent did not count: none was presented, no consent issuer signed it,
 * the consumer using it signed it itself, it expired, it lives longer than the policy allows (or
 * says not since when), its one use is spent, or the hub could not tell whether it is.
 */
export type ConsentProblem = 'absent' | 'untrusted-issuer' | 'self-issued' | 'expired' | 'lifetime-too-long' | 'used' | 'use-unconfirmed';

/** A person subject of the operation without a usable consent, named by where it appears in the operation (never by the identifier itself). */
export interface MissingConsent {
  /** Where the subject is, e.g. `people.idNumbers[2]` (response key of the root field, argument, index). */
  readonly subject: string;
  readonly purpose: string;
  readonly reason: ConsentProblem;
}

function deniedMessage(denied: readonly string[], missingConsent: readonly MissingConsent[], purposeProblem: string | undefined): string {
  const parts: string[] = [];
  if (purposeProblem !== undefined) parts.push(purposeProblem);
  if (denied.length > 0) parts.push(`The sharing policy denies ${denied.join(', ')} to this consumer for this purpose.`);
  if (missingConsent.length > 0) {
    parts.push(`No valid consent of the person concerned for ${missingConsent.map((m) => `${m.subject} (${m.reason})`).join(', ')}.`);
  }
  return parts.join(' ');
}

/**
 * The operation asks for fields the consumer may not read for the stated purpose, or lacks a
 * consent the purpose requires; refused as a whole before any department is asked (HTTP 403).
 */
export class PolicyDeniedError extends HubError {
  /** Every denied field coordinate, sorted. */
  readonly denied: readonly string[];
  readonly missingConsent: readonly MissingConsent[];

  declare readonly code: typeof HubErrorCode.POLICY_DENIED;

  constructor(denied: readonly string[], missingConsent: readonly MissingConsent[] = [], purposeProblem?: string) {
    super(HubErrorCode.POLICY_DENIED, deniedMessage(denied, missingConsent, purposeProblem), {
      denied: [...denied],
      ...(missingConsent.length > 0 ? { missingConsent: missingConsent.map((m) => ({ ...m })) } : {}),
      http: { status: 403 },
    });
    this.denied = denied;
    this.missingConsent = missingConsent;
  }
}

/** The sharing policy file is invalid; raised at start-up with one line per problem, each naming its entry. */
export class PolicyConfigError extends HubError {
  declare readonly code: 'POLICY_CONFIG_INVALID';
  /** One problem a line, e.g. `consumer "tax-bureau" grant[2] "Person.shoeSize": unknown field coordinate`. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super('POLICY_CONFIG_INVALID', `Invalid sharing policy:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/** A field of the schema lacks its @share classification, or carries an inconsistent one; the hub refuses to build. */
export class SchemaClassificationError extends HubError {
  declare readonly code: 'SCHEMA_CLASSIFICATION_INVALID';
  /** One problem a line, each naming the field coordinate. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super('SCHEMA_CLASSIFICATION_INVALID', `Schema classification failed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}
