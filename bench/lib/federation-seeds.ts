/**
 * Row F (跨域通办): the seeds of the two cities' hubs and of the one hub holding both, the cases
 * (a unit at the requesting city, its seller registered at the serving city), and the verdict of
 * the row. Pure functions: the runner and the departments' processes make the same seeds.
 */
import { generateSeed, type SeedData } from '../../departments';

/** The sellers of the serving city who own a unit at the requesting city: the most a seed has (`crossCity.sellers`). */
export const FEDERATION_SELLERS = 100;
/** The target of the issue: A's CPU per cross-city request at most this many times the single hub's for the same query. */
export const FEDERATION_CPU_TARGET = 1.3;

/** One cross-city question: a unit of the requesting city and its seller, a person of the serving city. */
export interface FederationCase {
  unit: string;
  seller: string;
}

/** The three seeds of row F. */
export interface FederationSeeds {
  /** B, Heze: its own persons (seed `seed + 1`, as the demo's 2 beside Tai'an's 1). */
  serving: SeedData;
  /** A, Tai'an: its own persons and `FEDERATION_SELLERS` units owned by persons of B's seed. */
  requesting: SeedData;
  /** The one hub holding both cities' departments: A's seed and B's, in the same departments. */
  single: SeedData;
  cases: FederationCase[];
}

/** Which seed a departments' process of row F serves. */
export type FederationRole = 'serving' | 'requesting' | 'single';
export const FEDERATION_ROLES: readonly FederationRole[] = ['serving', 'requesting', 'single'];

/** The seeds of row F for `size` persons per city. */
export function federationSeeds(options: { seed: number; size: number }): FederationSeeds {
  const serving = generateSeed({ seed: options.seed + 1, size: options.size, city: 'heze' });
  const requesting = generateSeed({ seed: options.seed, size: options.size, city: 'taian', crossCity: { from: serving, sellers: FEDERATION_SELLERS } });
  const cases = (requesting.crossCityUnits ?? []).map((unit) => {
    const owner = requesting.properties.find((p) => p.unitNumber === unit)?.owners[0]?.ownerId;
    if (!owner) throw new Error(`row F: the requesting seed's cross-city unit ${unit} has no owner`);
    return { unit, seller: owner };
  });
  return { serving, requesting, single: mergeSeeds(requesting, serving), cases };
}

/** The seed of one role (a departments' process makes only the one it serves, and the single one needs both cities'). */
export function federationSeed(role: FederationRole, options: { seed: number; size: number }): SeedData {
  const serving = generateSeed({ seed: options.seed + 1, size: options.size, city: 'heze' });
  if (role === 'serving') return serving;
  const requesting = generateSeed({ seed: options.seed, size: options.size, city: 'taian', crossCity: { from: serving, sellers: FEDERATION_SELLERS } });
  return role === 'requesting' ? requesting : mergeSeeds(requesting, serving);
}

/** Fails naming the collection and the key when two records of `items` share `key`. */
function checkUnique<T>(what: string, items: readonly T[], key: (item: T) => string): void {
  const seen = new Set<string>();
  for (const item of items) {
    const k = key(item);
    if (seen.has(k)) throw new Error(`the two cities' seeds cannot be merged: both have ${what} ${k}`);
    seen.add(k);
  }
}

/**
 * One seed holding both cities' records, `first`'s then `second`'s, in the same departments: the
 * persons, enterprises, units, accounts and taxpayers of both (the second's enterprise events
 * numbered after the first's). The cross-city units of `first` then have their owners here. Two
 * records with the same key are refused, naming it.
 */
export function mergeSeeds(first: SeedData, second: SeedData): SeedData {
  const lastSeq = first.enterpriseEvents.reduce((max, e) => Math.max(max, e.seq), 0);
  const merged: SeedData = {
    seed: first.seed,
    size: first.size + second.size,
    persons: [...first.persons, ...second.persons],
    enterprises: [...first.enterprises, ...second.enterprises],
    enterpriseEvents: [...first.enterpriseEvents, ...second.enterpriseEvents.map((e) => ({ ...e, seq: e.seq + lastSeq }))],
    properties: [...first.properties, ...second.properties],
    insured: [...first.insured, ...second.insured],
    employerAccounts: [...first.employerAccounts, ...second.employerAccounts],
    taxpayers: [...first.taxpayers, ...second.taxpayers],
    fundAccounts: [...first.fundAccounts, ...second.fundAccounts],
    fundEmployers: [...first.fundEmployers, ...second.fundEmployers],
    ...(first.crossCityUnits ? { crossCityUnits: first.crossCityUnits } : {}),
  };
  checkUnique('the person', merged.persons, (p) => p.idNumber);
  checkUnique('the enterprise', merged.enterprises, (e) => e.creditCode);
  checkUnique('the unit', merged.properties, (p) => p.unitNumber);
  checkUnique('the insured person', merged.insured, (i) => i.idNumber);
  checkUnique('the employer account', merged.employerAccounts, (a) => a.accountNumber);
  checkUnique('the taxpayer', merged.taxpayers, (t) => t.taxpayerId);
  checkUnique('the fund account', merged.fundAccounts, (a) => a.accountNumber);
  checkUnique('the fund employer account', merged.fundEmployers, (a) => a.employerAccountNumber);
  return merged;
}

/** Row F's figures: CPU milliseconds per successful request of each server. */
export interface FederationCpu {
  /** Hub A, the requesting city's, per cross-city request. */
  requesting: number;
  /** Hub B, the serving city's, per request of A's consumers (B serves one request per cross-city request). */
  serving: number;
  /** The one hub holding both cities' departments, per request of the same query. */
  single: number;
}

/** The verdict of row F: A's CPU against the single hub's, and A+B's beside it. */
export interface FederationVerdict {
  /** A / single. */
  ratio: number;
  /** (A + B) / single. */
  bothRatio: number;
  met: boolean;
}

/** A's CPU per request against the single hub's (target ≤ `FEDERATION_CPU_TARGET`), and A+B's; refuses figures that cannot be compared. */
export function federationVerdict(cpu: FederationCpu, target = FEDERATION_CPU_TARGET): FederationVerdict {
  for (const [k, v] of Object.entries(cpu)) {
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`row F: the ${k} hub's CPU per request must be a finite number ≥ 0, but got: ${String(v)}`);
  }
  if (cpu.single === 0) throw new RangeError('row F: the single hub used no CPU per request (no request succeeded?): nothing to compare with');
  const ratio = cpu.requesting / cpu.single;
  return { ratio, bothRatio: (cpu.requesting + cpu.serving) / cpu.single, met: ratio <= target };
}
