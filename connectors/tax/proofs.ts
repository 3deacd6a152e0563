/**
 * The tax connector's proof 无欠税证明: asks the tax service, with one GetTaxpayers call made for
 * the proof alone (never the hub's cache), whether a taxpayer owes any tax past its due date.
 */
import {
  BadUserInputError,
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
    validityDays: 30,
    revokedBy: ['ARREARS_ARISEN'],
  },
]);

/** Now (or `ms`) in China Standard Time with its offset, to the second: `2026-05-01T10:00:00+08:00`. */
export function chinaTime(ms: number = Date.now()): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 19) + '+08:00';
}

/** The taxpayer id of a subject, checked: a citizen identity number for a PERSON, a credit code for an ENTERPRISE. */
function taxpayerIdOf(subject: ProofSubject): string {
  if (subject?.kind === 'PERSON') return checked('idNumber', subject.id, citizenIdProblem);
  if (subject?.kind === 'ENTERPRISE') return checked('creditCode', subject.id, creditCodeProblem);
  throw new BadUserInputError('subject.kind', `must be PERSON or ENTERPRISE for ${NO_TAX_ARREARS}, but got: ${JSON.stringify(subject?.kind)}`);
}

function checked(argument: string, value: unknown, problemOf: (value: string) => string | undefined): string {
  if (typeof value !== 'string') throw new BadUserInputError(argument, 'must be a string');
  const problem = problemOf(value);
  if (problem !== undefined) throw new BadUserInputError(argument, problem);
  return value;
}

/**
 * The establisher over a lookup of one taxpayer (a GetTaxpayers call of its own). A taxpayer of
 * the other kind than the subject's (an id registered as an enterprise asked as a person) is not
 * the subject's registration: it is answered as not registered.
 */
export function createTaxProofs(lookup: (taxpayerId: string, signal: AbortSignal) => Promise<TaxpayerRecord | null>): ProofEstablisher {
  return {
    async establish(kind: string, subject: ProofSubject, signal: AbortSignal): Promise<ProofFacts> {
      if (kind !== NO_TAX_ARREARS) throw new BadUserInputError('kind', `is not a proof kind of the tax connector (it establishes ${NO_TAX_ARREARS}), but got: ${JSON.stringify(kind)}`);
      const taxpayerId = taxpayerIdOf(subject);
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
