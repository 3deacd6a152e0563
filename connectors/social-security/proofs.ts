/**
 * The social security connector's proof 社保缴费证明: asks the agency, with a call of its own for
 * the whole contribution history (never the hub's cache), whether the person is insured and what
 * was contributed: insurance types, months per type, the last period, the employer.
 */
import {
  BadUserInputError,
  chinaTime,
  proofSubjectId,
  citizenIdProblem,
  type ProofEstablisher,
  type ProofFacts,
  type ProofKindSpec,
  type ProofSubject,
} from '../../src/sdk';
import type { InsuredRecord } from './schemas';

/** 社保缴费证明: the person is insured, with their contributions. */
export const SOCIAL_INSURANCE_CONTRIBUTIONS = 'SOCIAL_INSURANCE_CONTRIBUTIONS';

/** The proof kinds of the social security connector (the agency has no change feed: none is revoked by an event). */
export const SOCIAL_SECURITY_PROOFS: readonly ProofKindSpec[] = Object.freeze([
  {
    kind: SOCIAL_INSURANCE_CONTRIBUTIONS,
    title: '社保缴费证明 Certificate of social insurance contributions',
    subject: 'PERSON',
    description:
      'The person is insured 参保 with the social security agency, which states the insurance types contributed to, the months contributed per type, the last period contributed and the employer it holds.',
    claimLabels: { idNumber: '公民身份号码 Identity number', name: '姓名 Name', scheme: '险种 Scheme', insuredStatus: '参保状态 Insured status', insuredSince: '参保日期 Insured since', insuranceTypes: '缴费险种 Insurance types', monthsByType: '各险种缴费月数 Months by type', lastContributionPeriod: '最近缴费期 Last period', employer: '参保单位 Employer' },
    validityDays: 30,
  },
]);


/** The claims of an insured person: what the agency holds of their contributions (months are distinct periods). */
export function contributionClaims(record: InsuredRecord): Record<string, unknown> {
  const periodsByType = new Map<string, Set<string>>();
  let lastPeriod: string | null = null;
  for (const c of record.contributions) {
    let periods = periodsByType.get(c.insuranceType);
    if (!periods) periodsByType.set(c.insuranceType, (periods = new Set()));
    periods.add(c.period);
    if (lastPeriod === null || c.period > lastPeriod) lastPeriod = c.period;
  }
  const insuranceTypes = [...periodsByType.keys()].sort();
  const monthsByType: Record<string, number> = {};
  for (const type of insuranceTypes) monthsByType[type] = periodsByType.get(type)!.size;
  return {
    idNumber: record.idNumber,
    name: record.name,
    scheme: record.scheme,
    insuredStatus: record.status,
    insuredSince: record.insuredSince,
    insuranceTypes,
    monthsByType,
    lastContributionPeriod: lastPeriod,
    employer: record.employerCreditCode === null ? null : { creditCode: record.employerCreditCode },
  };
}

/** The establisher over a lookup of one insured person with their whole history (a call of its own). */
export function createSocialSecurityProofs(lookup: (idNumber: string, signal: AbortSignal) => Promise<InsuredRecord | null>): ProofEstablisher {
  return {
    async establish(kind: string, subject: ProofSubject, signal: AbortSignal): Promise<ProofFacts> {
      if (kind !== SOCIAL_INSURANCE_CONTRIBUTIONS) {
        throw new BadUserInputError('kind', `is not a proof kind of the social-security connector (it establishes ${SOCIAL_INSURANCE_CONTRIBUTIONS}), but got: ${JSON.stringify(kind)}`);
      }
      const idNumber = proofSubjectId(kind, subject, ['PERSON']);
      const record = await lookup(idNumber, signal);
      const asOf = chinaTime();
      if (record === null) return { asOf, holds: false, reason: 'the social security agency has no insured person with this identity number', claims: { idNumber: subject.id } };
      return { asOf, holds: true, claims: contributionClaims(record) };
    },
  };
}
