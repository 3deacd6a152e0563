/**
 * The market-regulation connector's proof 企业登记状态: asks the department, with a call of its own
 * (never the hub's cache), whether the enterprise is registered, in operation 存续 (ACTIVE) and off
 * the abnormal-operation list 经营异常名录. A part of the hub's ENTERPRISE_GOOD_STANDING bundle.
 */
import {
  BadUserInputError,
  chinaTime,
  proofSubjectId,
  creditCodeProblem,
  type ProofEstablisher,
  type ProofFacts,
  type ProofKindSpec,
  type ProofSubject,
} from '../../src/sdk';
import type { EnterpriseRecord } from './schemas';

/** 企业登记状态: registered, ACTIVE, not on the abnormal-operation list. */
export const ENTERPRISE_REGISTRATION = 'ENTERPRISE_REGISTRATION';

/** The proof kinds of the market-regulation connector. */
export const MARKET_REGULATION_PROOFS: readonly ProofKindSpec[] = Object.freeze([
  {
    kind: ENTERPRISE_REGISTRATION,
    title: '企业登记状态 Enterprise registration status',
    subject: 'ENTERPRISE',
    description:
      'The enterprise is registered with market regulation 市场监管, its registration status is ACTIVE 存续, and it is not on the abnormal-operation list 经营异常名录.',
    claimLabels: { creditCode: '统一社会信用代码 Credit code', name: '企业名称 Enterprise', registrationStatus: '登记状态 Registration status', establishedAt: '成立日期 Established', legalRepresentative: '法定代表人 Legal representative', onAbnormalList: '列入经营异常名录 On the abnormal list', registered: '已登记 Registered' },
    validityDays: 30,
    revokedBy: ['ENTERPRISE_STATUS_CHANGED', 'ABNORMAL_LISTED'],
  },
]);


/** The establisher over a lookup of one enterprise (a call of its own). */
export function createMarketRegulationProofs(lookup: (creditCode: string, signal: AbortSignal) => Promise<EnterpriseRecord | null>): ProofEstablisher {
  return {
    async establish(kind: string, subject: ProofSubject, signal: AbortSignal): Promise<ProofFacts> {
      if (kind !== ENTERPRISE_REGISTRATION) {
        throw new BadUserInputError('kind', `is not a proof kind of the market-regulation connector (it establishes ${ENTERPRISE_REGISTRATION}), but got: ${JSON.stringify(kind)}`);
      }
      const creditCode = proofSubjectId(kind, subject, ['ENTERPRISE']);
      const record = await lookup(creditCode, signal);
      const asOf = chinaTime();
      if (record === null) return { asOf, holds: false, reason: 'market regulation has no enterprise registered under this credit code', claims: { creditCode: subject.id, registered: false } };
      const listings = record.abnormalOperations.filter((a) => a.removedAt === null).length;
      const claims = {
        creditCode: record.creditCode,
        name: record.name,
        registrationStatus: record.status,
        establishedAt: record.establishedAt,
        // The department holds the representative by identity number only: it keeps no name.
        legalRepresentative: { idNumber: record.legalRepIdNumber },
        onAbnormalList: listings > 0,
      };
      if (record.status !== 'ACTIVE') return { asOf, holds: false, reason: `the enterprise's registration status is ${record.status}, not ACTIVE`, claims };
      if (listings > 0) return { asOf, holds: false, reason: 'the enterprise is on the abnormal-operation list', claims };
      return { asOf, holds: true, claims };
    },
  };
}
