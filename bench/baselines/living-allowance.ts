/**
 * Baseline B2-S3, the living-allowance check 低保核查 an integrator writes without a hub: a plain
 * `node:http` service answering S3's `LIVING_ALLOWANCE_QUERY` for a list of persons by asking the
 * four departments directly, once each and in parallel, with the whole list (the batches the
 * hub's connectors send): the units each person owns (real estate, the connector's by-owner
 * statement), individual-income tax payments (tax, GetTaxpayers), insurance and the last 6
 * months of contributions (social security, the batch with 120 months, as the connector asks),
 * the enterprises each person represents (market regulation, paged). It composes the same JSON as
 * the hub's `data` (checked before measuring). No schema, policy, seals or consents.
 *
 * Env: as B2 (bench/baselines/department-clients.ts), B2S3_PORT (0). Prints `B2-S3 ready at <url> (event loop <url>)`.
 */
import { citizenIdFacts } from '../../src/sdk';
import { createDepartmentClients, newestFirst, type Insured } from './department-clients';
import { servePlain } from './plain-server';

/** Months of contributions the query selects (`contributions(last: 6)`). */
const CONTRIBUTION_MONTHS = 6;
/** At most this many persons per request, as the graph's `people` allows. */
const MAX_PERSONS = 100;

const departments = createDepartmentClients();

/** The contributions of the newest `months` periods (the list is newest first): the social-security connector's rule. */
function lastMonths(list: Insured['contributions'], months: number): Insured['contributions'] {
  let periods = 0;
  let previous: string | undefined;
  for (let end = 0; end < list.length; end++) {
    const period = list[end]!.period;
    if (period !== previous) {
      if (++periods > months) return list.slice(0, end);
      previous = period;
    }
  }
  return list;
}

/** The living-allowance reply for `family`, shaped as the hub's `data`. */
async function livingAllowance(family: string[]): Promise<unknown> {
  const [properties, taxes, insured, enterprises] = await Promise.all([
    departments.propertiesByOwner(family),
    departments.taxpayers(family),
    departments.insured(family),
    departments.enterprisesByLegalRep(family),
  ]);
  return {
    people: family.map((idNumber) => {
      const person = insured.get(idNumber);
      const taxpayer = taxes.get(idNumber);
      return {
        idNumber,
        name: person?.name ?? null,
        birthDate: citizenIdFacts(idNumber).birthDate,
        properties: (properties.get(idNumber) ?? []).map((p) => ({ unitNumber: p.unitNumber, address: p.address, area: p.area, usage: p.usage })),
        taxRecords: taxpayer
          ? {
              payments: (taxpayer.payment ?? [])
                .filter((p) => p.taxType === 'INDIVIDUAL_INCOME')
                .sort(newestFirst)
                .map((p) => ({ period: p.period, amount: Number(p.amount) })),
            }
          : null,
        socialInsurance: person
          ? {
              scheme: person.scheme,
              status: person.status,
              contributions: lastMonths(person.contributions, CONTRIBUTION_MONTHS).map((c) => ({ period: c.period, insuranceType: c.insuranceType, base: c.base, amount: c.amount })),
            }
          : null,
        enterprises: (enterprises.get(idNumber) ?? []).map((e) => ({ creditCode: e.creditCode, name: e.name, status: e.status, registeredCapital: e.registeredCapital })),
      };
    }),
  };
}

servePlain('B2-S3', Number(process.env.B2S3_PORT ?? 0), departments, (variables) => {
  const { family } = variables;
  if (!Array.isArray(family) || family.length === 0 || family.length > MAX_PERSONS || !family.every((id) => typeof id === 'string' && id.length === 18)) {
    throw new Error(`"family" must be 1 to ${MAX_PERSONS} citizen identity numbers`);
  }
  return livingAllowance(family as string[]);
});
