/**
 * What the hub should answer, derived straight from the seed data (independently of the
 * sandboxes and connectors), for the worked queries of src/cli/examples.ts.
 */
import type { SeedData, SeedEnterprise, SeedPerson } from '../../departments/seed/model';

/** Indexes of one seed. */
export function indexSeed(data: SeedData) {
  return {
    person: new Map<string, SeedPerson>(data.persons.map((p) => [p.idNumber, p])),
    enterprise: new Map<string, SeedEnterprise>(data.enterprises.map((e) => [e.creditCode, e])),
    taxpayer: new Map(data.taxpayers.map((t) => [t.taxpayerId, t])),
    insured: new Map(data.insured.map((i) => [i.idNumber, i])),
    property: new Map(data.properties.map((p) => [p.unitNumber, p])),
  };
}

/** The expected `data` of PROPERTY_TRANSFER_QUERY. */
export function expectedPropertyTransfer(data: SeedData, v: { unitNumber: string; seller: string; buyer: string }) {
  const ix = indexSeed(data);
  const party = (kind: 'PERSON' | 'ENTERPRISE', id: string) =>
    kind === 'PERSON'
      ? { __typename: 'Person', idNumber: id, name: ix.person.get(id)!.name }
      : { __typename: 'Enterprise', creditCode: id, name: ix.enterprise.get(id)!.name, status: ix.enterprise.get(id)!.status };
  const p = ix.property.get(v.unitNumber)!;
  const seller = ix.enterprise.get(v.seller)!;
  const sellerTax = ix.taxpayer.get(v.seller)!;
  const buyerTax = ix.taxpayer.get(v.buyer)!;
  return {
    property: {
      unitNumber: p.unitNumber,
      certificateNumber: p.certificateNumber,
      address: p.address,
      area: p.area,
      usage: p.usage,
      owners: p.owners.map((o) => ({ share: o.share, kind: o.ownership, owner: party(o.kind, o.ownerId) })),
      mortgages: p.mortgages.map((m) => ({ registrationNumber: m.registrationNumber, mortgagee: m.mortgagee, amount: m.amount, status: m.status })),
      seizures: p.seizures.map((s) => ({ seizureNumber: s.seizureNumber, court: s.court, caseNumber: s.caseNumber, status: s.status })),
      transfers: p.transfers.map((t) => ({ date: t.date, price: t.price, from: party(t.fromKind, t.fromId), to: party(t.toKind, t.toId) })),
    },
    seller: {
      creditCode: seller.creditCode,
      name: seller.name,
      status: seller.status,
      abnormalOperations: seller.abnormalOperations.map((a) => ({ reason: a.reason, listedAt: a.listedAt, removedAt: a.removedAt })),
      taxStatus: { creditRating: sellerTax.creditRating, hasArrears: sellerTax.arrears.length > 0 },
    },
    buyer: {
      idNumber: v.buyer,
      name: ix.person.get(v.buyer)!.name,
      taxRecords: {
        hasArrears: buyerTax.arrears.length > 0,
        payments: buyerTax.payments
          .filter((x) => x.taxType === 'DEED')
          .map((x) => ({ voucherNumber: x.voucherNumber, amount: x.amount, paidAt: x.paidAt, property: x.unitNumber ? { unitNumber: x.unitNumber } : null })),
      },
    },
  };
}

const byKey = <T>(key: (t: T) => string) => (a: T, b: T) => key(a).localeCompare(key(b));

/** The expected `people` of LIVING_ALLOWANCE_QUERY, with lists in a canonical order (see `canonicalLivingAllowance`). */
export function expectedLivingAllowance(data: SeedData, family: readonly string[]) {
  const ix = indexSeed(data);
  return family.map((id) => {
    const person = ix.person.get(id)!;
    const tax = ix.taxpayer.get(id);
    const insured = ix.insured.get(id)!;
    return {
      idNumber: id,
      name: person.name,
      birthDate: person.birthDate,
      properties: data.properties
        .filter((p) => p.owners.some((o) => o.ownerId === id))
        .map((p) => ({ unitNumber: p.unitNumber, address: p.address, area: p.area, usage: p.usage }))
        .sort(byKey((p) => p.unitNumber)),
      taxRecords: tax ? { payments: tax.payments.filter((x) => x.taxType === 'INDIVIDUAL_INCOME').map((x) => ({ period: x.period, amount: x.amount })) } : null,
      socialInsurance: {
        scheme: insured.scheme,
        status: insured.status,
        contributions: insured.contributions
          .map((c) => ({ period: c.period, insuranceType: c.insuranceType, base: c.base, amount: c.amount }))
          .sort(byKey((c) => `${c.period}/${c.insuranceType}`)),
      },
      enterprises: data.enterprises
        .filter((e) => e.legalRepIdNumber === id)
        .map((e) => ({ creditCode: e.creditCode, name: e.name, status: e.status, registeredCapital: e.registeredCapital }))
        .sort(byKey((e) => e.creditCode)),
    };
  });
}

/** Puts the unordered lists of a living-allowance reply in the order `expectedLivingAllowance` uses. */
export function canonicalLivingAllowance(people: any[]): any[] {
  return people.map((p) => ({
    ...p,
    properties: p.properties && [...p.properties].sort(byKey((x: any) => x.unitNumber)),
    socialInsurance: p.socialInsurance && {
      ...p.socialInsurance,
      contributions: [...p.socialInsurance.contributions].sort(byKey((c: any) => `${c.period}/${c.insuranceType}`)),
    },
    enterprises: p.enterprises && [...p.enterprises].sort(byKey((x: any) => x.creditCode)),
  }));
}
