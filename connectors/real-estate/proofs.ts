/**
 * The registry's proofs: 不动产登记信息 (the units a party owns, with the mortgages and seizures in
 * force on them) and 无房证明 (a person owns no unit in this registry). Each asks the exchange
 * database with a statement of its own (never the hub's cache), and a transfer's new owners are
 * read back from it so that their 无房证明 is revoked.
 */
import {
  BadUserInputError,
  chinaTime,
  proofSubjectId,
  citizenIdProblem,
  creditCodeProblem,
  unitNumberProblem,
  type DepartmentEvent,
  type ProofEstablisher,
  type ProofFacts,
  type ProofKindSpec,
  type ProofSubject,
} from '../../src/sdk';
import type { PropertyRecord } from './records';

/** 不动产登记信息: the units registered to a party. */
export const PROPERTY_RECORD = 'PROPERTY_RECORD';
/** 无房证明: no unit is registered to the person in this registry. */
export const NO_PROPERTY = 'NO_PROPERTY';

/** The proof kinds of the real-estate connector. */
export const REAL_ESTATE_PROOFS: readonly ProofKindSpec[] = Object.freeze([
  {
    kind: PROPERTY_RECORD,
    title: '不动产登记信息 Real-estate registration record',
    subject: 'PERSON',
    subjects: ['PERSON', 'ENTERPRISE'],
    description:
      'The units 不动产单元 the registry has registered to the party (a person or an enterprise), with its share, and the mortgages 抵押 and seizures 查封 in force on them.',
    claimLabels: { idNumber: '公民身份号码 Identity number', creditCode: '统一社会信用代码 Credit code', registry: '登记机构 Registry', properties: '登记的不动产 Units registered', propertiesFound: '登记的不动产数 Units found' },
    validityDays: 30,
    revokedBy: ['TRANSFER_REGISTERED', 'MORTGAGE_REGISTERED', 'MORTGAGE_RELEASED', 'SEIZURE_REGISTERED', 'SEIZURE_RELEASED'],
  },
  {
    kind: NO_PROPERTY,
    title: '无房证明 Certificate of no registered property',
    subject: 'PERSON',
    description: 'The registry 不动产登记 has no unit registered to the person, wholly or in part, as of the time it answered.',
    claimLabels: { idNumber: '公民身份号码 Identity number', creditCode: '统一社会信用代码 Credit code', registry: '登记机构 Registry', properties: '登记的不动产 Units registered', propertiesFound: '登记的不动产数 Units found' },
    validityDays: 30,
    revokedBy: ['TRANSFER_REGISTERED'],
  },
]);


/** What the establisher asks the registry, each one statement of its own. */
export interface RealEstateProofSource {
  /** The registry's name as a negative statement names it (`registry` of a 无房证明). */
  readonly registryName: string;
  /** The units (co-)owned by a party, by citizen identity number or credit code, in unit-number order. */
  propertiesOwnedBy(ownerId: string, signal: AbortSignal): Promise<PropertyRecord[]>;
  /** The unit, or null when the registry has no such unit. */
  property(unitNumber: string, signal: AbortSignal): Promise<PropertyRecord | null>;
}


/** One unit as a 不动产登记信息 lists it, for the owner asked about: its share, and only what is in force on it. */
function listed(record: PropertyRecord, ownerKind: string, ownerId: string): Record<string, unknown> {
  const own = record.owners.find((o) => o.ownerId === ownerId && o.kind === ownerKind);
  return {
    unitNumber: record.unitNumber,
    certificateNumber: record.certificateNumber,
    address: record.address,
    area: record.area,
    usage: record.usage,
    share: own?.share ?? null,
    ownership: own?.ownership ?? null,
    registeredAt: record.registeredAt,
    mortgages: record.mortgages
      .filter((m) => m.status === 'ACTIVE')
      .map((m) => ({ registrationNumber: m.registrationNumber, mortgagee: m.mortgagee, amount: m.amount, startDate: m.startDate, endDate: m.endDate })),
    seizures: record.seizures
      .filter((s) => s.status === 'ACTIVE')
      .map((s) => ({ seizureNumber: s.seizureNumber, court: s.court, caseNumber: s.caseNumber, startDate: s.startDate, endDate: s.endDate })),
  };
}

/** The establisher of the registry's proofs over `source`. */
export function createRealEstateProofs(source: RealEstateProofSource): ProofEstablisher {
  /** The units registered to the subject as a party of its kind (a credit code is never a person's, and the other way round). */
  async function ownedBy(subject: ProofSubject, ownerId: string, signal: AbortSignal): Promise<PropertyRecord[]> {
    const records = await source.propertiesOwnedBy(ownerId, signal);
    return records.filter((r) => r.owners.some((o) => o.ownerId === ownerId && o.kind === subject.kind));
  }

  return {
    async establish(kind: string, subject: ProofSubject, signal: AbortSignal): Promise<ProofFacts> {
      if (kind === PROPERTY_RECORD) {
        const ownerId = proofSubjectId(kind, subject, ['PERSON', 'ENTERPRISE']);
        const records = await ownedBy(subject, ownerId, signal);
        const asOf = chinaTime();
        const idClaim = subject.kind === 'PERSON' ? { idNumber: ownerId } : { creditCode: ownerId };
        if (records.length === 0) {
          return { asOf, holds: false, reason: 'the registry has no unit registered to the party', claims: { ...idClaim, registry: source.registryName, propertiesFound: 0 } };
        }
        return {
          asOf,
          holds: true,
          claims: { ...idClaim, registry: source.registryName, properties: records.map((r) => listed(r, subject.kind, ownerId)) },
          dependsOn: records.map((r) => ({ kind: 'PROPERTY' as const, id: r.unitNumber })),
        };
      }
      if (kind === NO_PROPERTY) {
        const idNumber = proofSubjectId(kind, subject, ['PERSON']);
        const found = (await ownedBy(subject, idNumber, signal)).length;
        const asOf = chinaTime();
        if (found > 0) return { asOf, holds: false, reason: `the registry has ${found} unit(s) registered to the person`, claims: { idNumber, registry: source.registryName } };
        return { asOf, holds: true, claims: { idNumber, registry: source.registryName, propertiesFound: 0 } };
      }
      throw new BadUserInputError('kind', `is not a proof kind of the real-estate connector (it establishes ${PROPERTY_RECORD} and ${NO_PROPERTY}), but got: ${JSON.stringify(kind)}`);
    },

    /**
     * A transfer gives the unit its new owners, read from the registry now: their 无房证明 no
     * longer holds, and their 不动产登记信息 misses the unit. Other events change only the unit
     * (the proofs listing it depend on it).
     */
    async affectedSubjects(event: DepartmentEvent, signal: AbortSignal): Promise<readonly ProofSubject[]> {
      if (event.type !== 'TRANSFER_REGISTERED' || event.subject.kind !== 'PROPERTY') return [];
      const unitNumber = event.subject.id;
      const problem = typeof unitNumber === 'string' ? unitNumberProblem(unitNumber) : 'must be a string';
      if (problem !== undefined) throw new BadUserInputError('event.subject.id', problem);
      const record = await source.property(unitNumber, signal);
      if (record === null) return [];
      return record.owners.map((o) => ({ kind: o.kind, id: o.ownerId }));
    },
  };
}
