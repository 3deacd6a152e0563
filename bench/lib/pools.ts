/**
 * Variables for the scenarios, picked from the same seed the sandboxes load: property transfers
 * (a unit an enterprise sold to a person), with the number of dependent department round trips
 * each one needs, and 50-person family lists for the living-allowance check.
 */
import type { SeedData } from '../../departments';
import { livingAllowanceExample, propertyTransferExample } from '../../src/cli/examples';

/** Variables of the property-transfer query. */
export interface TransferVariables {
  unitNumber: string;
  seller: string;
  buyer: string;
}

/** A transfer and how many sequential department round trips the hub needs for it. */
export interface TransferCase {
  variables: TransferVariables;
  /**
   * 1 when every party of the unit (owners, both sides of every transfer) is the seller or the
   * buyer, whose records the first round trip already fetches; 2 when another party's name
   * (social security) or status (market regulation) must be fetched after the unit is read.
   */
  levels: 1 | 2;
}

/** The variable pools of one seed. */
export interface Pools {
  /** The worked example (the first unit sold by an enterprise to a person): the "same request again" case. */
  example: TransferVariables;
  /** Every unit sold by an enterprise to a person, in a deterministic shuffled order. */
  transfers: TransferCase[];
  /** Family lists of exactly `familySize` persons (whole households, the last one cut), shuffled. */
  families: string[][];
}

/** A small deterministic PRNG (mulberry32), so that pools are the same in every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function shuffle<T>(items: T[], seed: number): T[] {
  const random = prng(seed);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Builds the pools; `maxFamilies` bounds the family lists (each costs 50 ids in every request body). */
export function buildPools(data: SeedData, options: { familySize?: number; maxFamilies?: number } = {}): Pools {
  const familySize = options.familySize ?? 50;
  const maxFamilies = options.maxFamilies ?? 400;
  const transfers: TransferCase[] = [];
  for (const p of data.properties) {
    const parties = new Set<string>();
    for (const o of p.owners) parties.add(o.ownerId);
    for (const t of p.transfers) {
      parties.add(t.fromId);
      parties.add(t.toId);
    }
    for (const t of p.transfers) {
      if (t.fromKind !== 'ENTERPRISE' || t.toKind !== 'PERSON') continue;
      let others = 0;
      for (const id of parties) if (id !== t.fromId && id !== t.toId) others++;
      transfers.push({ variables: { unitNumber: p.unitNumber, seller: t.fromId, buyer: t.toId }, levels: others > 0 ? 2 : 1 });
    }
  }
  if (transfers.length < 50) throw new Error(`the seed has only ${transfers.length} units sold by an enterprise to a person; use a larger --size`);

  const households = new Map<string, string[]>();
  for (const person of data.persons) {
    const members = households.get(person.householdId);
    if (members) members.push(person.idNumber);
    else households.set(person.householdId, [person.idNumber]);
  }
  const families: string[][] = [];
  let current: string[] = [];
  for (const members of households.values()) {
    for (const id of members) {
      if (current.length === familySize) break;
      current.push(id);
    }
    if (current.length === familySize) {
      families.push(current);
      current = [];
      if (families.length === maxFamilies) break;
    }
  }
  if (families.length === 0) families.push(livingAllowanceExample(data).family.slice(0, familySize));

  return { example: propertyTransferExample(data), transfers: shuffle(transfers, 7), families: shuffle(families, 11) };
}

/**
 * The family lists resized to `persons` each (S3-10, S3-100): each list cut when it is longer,
 * consecutive lists joined (then cut) when shorter; a group too short to fill a list is dropped,
 * so every list has exactly `persons` distinct persons (the lists do not share persons).
 */
export function resizeFamilies(families: readonly string[][], persons: number): string[][] {
  if (!Number.isInteger(persons) || persons < 1) throw new Error(`persons per list must be a positive integer, but got ${String(persons)}`);
  const resized: string[][] = [];
  let current: string[] = [];
  for (const family of families) {
    for (const id of family) {
      current.push(id);
      if (current.length === persons) break;
    }
    if (current.length === persons) {
      resized.push(current);
      current = [];
    }
  }
  return resized;
}
