/**
 * Baseline B2, what an integrator writes without a hub: a plain `node:http` service answering the
 * property-transfer question by calling the four department systems directly, in parallel, and
 * composing the same JSON the hub returns. SQL via `pg` to real estate (the same statement as the
 * real-estate connector, so the database does the same work), REST via undici to social security
 * and market regulation, a SOAP POST parsed by fast-xml-parser to tax. A second round trip asks
 * for the names of the unit's other parties, as the hub's nested fields do. No schema validation,
 * no GraphQL: it reads `variables` from the GraphQL body the load generator sends to every server.
 *
 * The department calls are bench/baselines/department-clients.ts (shared with B2-S3).
 *
 * Env: B2_RE_URL, B2_SS_URL, B2_SS_KEY, B2_TAX_URL, B2_MR_URL, B2_PORT (0). Prints `B2 ready at <url> (event loop <url>)`.
 */
import { createDepartmentClients, newestFirst, type Enterprise, type Insured } from './department-clients';
import { servePlain } from './plain-server';

const departments = createDepartmentClients();
const { property, enterprises, taxpayers, insured } = departments;

/** The property-transfer reply, shaped as the hub's `data`. */
async function propertyTransfer(v: { unitNumber: string; seller: string; buyer: string }): Promise<unknown> {
  const [unit, sellers, taxes, buyers] = await Promise.all([property(v.unitNumber), enterprises([v.seller]), taxpayers([v.seller, v.buyer]), insured([v.buyer])]);
  // Second round trip: the unit's other parties.
  const persons = new Set<string>();
  const companies = new Set<string>();
  const note = (kind: string, id: string): void => {
    if (kind === 'PERSON' && id !== v.buyer) persons.add(id);
    else if (kind === 'ENTERPRISE' && id !== v.seller) companies.add(id);
  };
  for (const o of unit?.owners ?? []) note(o.kind, o.ownerId);
  for (const t of unit?.transfers ?? []) {
    note(t.fromKind, t.fromId);
    note(t.toKind, t.toId);
  }
  const [morePersons, moreCompanies] = await Promise.all([
    persons.size > 0 ? insured([...persons]) : new Map<string, Insured>(),
    companies.size > 0 ? enterprises([...companies]) : new Map<string, Enterprise>(),
  ]);
  const personName = (id: string): string | null => (id === v.buyer ? buyers.get(id) : morePersons.get(id))?.name ?? null;
  const company = (id: string): Enterprise | undefined => (id === v.seller ? sellers.get(id) : moreCompanies.get(id));
  const party = (kind: string, id: string): unknown =>
    kind === 'PERSON'
      ? { __typename: 'Person', idNumber: id, name: personName(id) }
      : { __typename: 'Enterprise', creditCode: id, name: company(id)?.name ?? null, status: company(id)?.status ?? null };

  const seller = sellers.get(v.seller);
  const sellerTax = taxes.get(v.seller);
  const buyerTax = taxes.get(v.buyer);
  return {
    property: unit && {
      unitNumber: unit.unitNumber,
      certificateNumber: unit.certificateNumber,
      address: unit.address,
      area: unit.area,
      usage: unit.usage,
      owners: unit.owners.map((o) => ({ share: o.share, kind: o.ownership, owner: party(o.kind, o.ownerId) })),
      mortgages: unit.mortgages.map((m) => ({ registrationNumber: m.registrationNumber, mortgagee: m.mortgagee, amount: m.amount, status: m.status })),
      seizures: unit.seizures.map((s) => ({ seizureNumber: s.seizureNumber, court: s.court, caseNumber: s.caseNumber, status: s.status })),
      transfers: unit.transfers.map((t) => ({ date: t.date, price: t.price, from: party(t.fromKind, t.fromId), to: party(t.toKind, t.toId) })),
    },
    seller: {
      creditCode: v.seller,
      name: seller?.name ?? null,
      status: seller?.status ?? null,
      abnormalOperations: seller ? seller.abnormalOperations.map((a) => ({ reason: a.reason, listedAt: a.listedAt, removedAt: a.removedAt })) : null,
      taxStatus: sellerTax?.kind === 'ENTERPRISE' ? { creditRating: sellerTax.creditRating ?? null, hasArrears: (sellerTax.arrear ?? []).length > 0 } : null,
    },
    buyer: {
      idNumber: v.buyer,
      name: buyers.get(v.buyer)?.name ?? null,
      taxRecords:
        buyerTax?.kind === 'PERSON'
          ? {
              hasArrears: (buyerTax.arrear ?? []).length > 0,
              payments: (buyerTax.payment ?? [])
                .filter((p) => p.taxType === 'DEED')
                .sort(newestFirst)
                .map((p) => ({ voucherNumber: p.voucherNumber, amount: Number(p.amount), paidAt: p.paidAt, property: p.unitNumber ? { unitNumber: p.unitNumber } : null })),
            }
          : null,
    },
  };
}

servePlain('B2', Number(process.env.B2_PORT ?? 0), departments, (variables) =>
  propertyTransfer(variables as { unitNumber: string; seller: string; buyer: string }),
);
