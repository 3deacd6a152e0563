/**
 * The tax connector's proof 无欠税证明: asks the tax service, with one GetTaxpayers call made for
 * the proof alone (never the hub's cache), whether a taxpayer owes any tax past its due date.
 */
import {
  BadUserInputError,
  chinaTime,
  proofSubjectId,
  citizenIdProblem,
  creditCodeProblem,
  type ProofEstablisher,
  type ProofFacts,
  type ProofKindSpec,
  type ProofSubject,
} from '../../src/sdk';
import type { TaxpayerRecord } from './schemas';

/** 无欠税证明: the taxpayer owes no tax past its due date. */
export const NO_TAX_ARREARS = 'NO_TAX_ARREARS';

/** The proof kinds of the tax connector. */
export const TAX_PROOFS: readonly ProofKindSpec[] = Object.freeze([
  {
    kind: NO_TAX_ARREARS,
    title: '无欠税证明 Certificate of no tax arrears',
    subject: 'PERSON',
    subjects: ['PERSON', 'ENTERPRISE'],
    description:
      'The tax bureau holds no arrears 欠税 of the taxpayer (a person or an enterprise) as of the time it answered; an identifier with no tax registration owes nothing and is stated as registered: false.',
    claimLabels: { taxpayerId: '纳税人识别号 Taxpayer id', name: '纳税人名称 Taxpayer', registered: '已办理税务登记 Registered for tax', hasArrears: '是否欠税 Arrears', taxOffice: '主管税务机关 Tax office' },
    validityDays: 30,
    revokedBy: ['ARREARS_ARISEN'],
  },
]);


/**
 * The establisher over a lookup of one taxpayer (a GetTaxpayers call of its own). A taxpayer of
 * the other kind than the subject's (an id registered as an enterprise asked as a person) is not
 * the subject's registration: it is answered as not registered.
 */
export function createTaxProofs(lookup: (taxpayerId: string, signal: AbortSignal) => Promise<TaxpayerRecord | null>): ProofEstablisher {
  return {
    async establish(kind: string, subject: ProofSubject, signal: AbortSignal): Promise<ProofFacts> {
      if (kind !== NO_TAX_ARREARS) throw new BadUserInputError('kind', `is not a proof kind of the tax connector (it establishes ${NO_TAX_ARREARS}), but got: ${JSON.stringify(kind)}`);
      const taxpayerId = proofSubjectId(NO_TAX_ARREARS, subject, ['PERSON', 'ENTERPRISE']);
      const found = await lookup(taxpayerId, signal);
      const asOf = chinaTime();
      const record = found !== null && found.kind === subject.kind ? found : null;
      if (record === null) return { asOf, holds: true, claims: { taxpayerId, registered: false, hasArrears: false } };
      const claims = { taxpayerId, name: record.name, registered: true, hasArrears: record.hasArrears, taxOffice: record.taxOffice };
      if (record.hasArrears) {
        const types = [...new Set(record.arrears.map((a) => a.taxType))].sort();
        return { asOf, holds: false, reason: `the taxpayer has arrears of ${record.arrears.length} tax item(s) (${types.join(', ')})`, claims };
      }
      return { asOf, holds: true, claims };
    },
  };
}
