/**
 * The market-regulation department's own store: enterprise records keyed by credit code, an
 * index by legal representative, the abnormal-operation list and the change feed. Built from
 * the department's part of SeedData by copying, so run-time changes (status changes, new
 * registrations) never touch the seed that tests compare against.
 *
 * Every record keeps its serialized JSON and ETag, computed once per version: the HTTP layer
 * answers by concatenating these strings, which is what keeps the sandbox fast under benchmarks.
 */
import { createHash } from 'node:crypto';
import type { EnterpriseStatus, SeedData, SeedEnterprise, SeedEnterpriseEvent } from '../seed/model';

/** The sections of an enterprise record that a caller may ask for with `include`. */
export const ENTERPRISE_SECTIONS = ['licence', 'permits', 'penalties', 'abnormalOperations'] as const;

/** One section of an enterprise record. */
export type EnterpriseSection = (typeof ENTERPRISE_SECTIONS)[number];

/** The statuses an enterprise can have; the only values a status change accepts. */
export const ENTERPRISE_STATUSES: readonly EnterpriseStatus[] = ['ACTIVE', 'ABNORMAL', 'REVOKED', 'CANCELLED'];

/** An enterprise as the department stores it: the registration data plus a version bumped on every change. */
export interface StoredEnterprise extends SeedEnterprise {
  version: number;
}

/** A stored record with its serialized forms, rebuilt whenever its version changes. */
interface Entry {
  record: StoredEnterprise;
  /** The full record as JSON (all sections). */
  json: string;
  /** Strong ETag of `json`: version plus a content digest. */
  etag: string;
}

/** One listing on the abnormal-operation list 经营异常名录, with the enterprise it belongs to. */
export interface AbnormalListing {
  creditCode: string;
  name: string;
  reason: string;
  listedAt: string;
  removedAt: string | null;
  authority: string;
  /** Position of the listing within its enterprise's listings (the keyset tiebreak). */
  index: number;
}

/** An event of the change feed, as the department publishes it. */
export interface ChangeEvent {
  /** Increasing position in the feed (also what the opaque feed cursor encodes). */
  id: number;
  kind: SeedEnterpriseEvent['kind'];
  creditCode: string;
  status: EnterpriseStatus;
  at: string;
}

function digest(text: string): string {
  return createHash('sha1').update(text).digest('base64url').slice(0, 16);
}

function copyEnterprise(e: SeedEnterprise, version: number): StoredEnterprise {
  return {
    creditCode: e.creditCode,
    name: e.name,
    kind: e.kind,
    status: e.status,
    legalRepIdNumber: e.legalRepIdNumber,
    registeredCapital: e.registeredCapital,
    establishedAt: e.establishedAt,
    address: e.address,
    industry: e.industry,
    licence: { ...e.licence },
    permits: e.permits.map((p) => ({ ...p })),
    penalties: e.penalties.map((p) => ({ ...p })),
    abnormalOperations: e.abnormalOperations.map((a) => ({ ...a })),
    version,
  };
}

function entryOf(record: StoredEnterprise): Entry {
  const json = JSON.stringify(record);
  return { record, json, etag: `"v${record.version}-${digest(json)}"` };
}

function compareListings(a: AbnormalListing, b: AbnormalListing): number {
  return a.creditCode < b.creditCode ? -1 : a.creditCode > b.creditCode ? 1 : a.index - b.index;
}

/** A timestamp in China Standard Time, the format of the seeded feed (`2024-05-01T10:00:00+08:00`). */
function nowInChina(): string {
  return new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 19) + '+08:00';
}

/** The market-regulation department's data, with the operations its API serves. */
export class MarketRegulationStore {
  private readonly byCode = new Map<string, Entry>();
  /** Legal representative id → credit codes, sorted (the keyset order of the by-representative query). */
  private readonly byLegalRep = new Map<string, string[]>();
  /** Sorted by (creditCode, index): the keyset order of the abnormal-operation list. */
  private abnormal: AbnormalListing[] = [];
  private readonly events: ChangeEvent[] = [];

  constructor(data: Pick<SeedData, 'enterprises' | 'enterpriseEvents'>) {
    for (const e of data.enterprises) this.put(copyEnterprise(e, 1));
    for (const codes of this.byLegalRep.values()) codes.sort();
    this.abnormal.sort(compareListings);
    for (const ev of [...data.enterpriseEvents].sort((a, b) => a.seq - b.seq)) {
      this.events.push({ id: ev.seq, kind: ev.kind, creditCode: ev.creditCode, status: ev.status, at: ev.at });
    }
  }

  private put(record: StoredEnterprise): void {
    this.byCode.set(record.creditCode, entryOf(record));
    const codes = this.byLegalRep.get(record.legalRepIdNumber);
    if (codes) codes.push(record.creditCode);
    else this.byLegalRep.set(record.legalRepIdNumber, [record.creditCode]);
    record.abnormalOperations.forEach((a, index) => {
      this.abnormal.push({ creditCode: record.creditCode, name: record.name, reason: a.reason, listedAt: a.listedAt, removedAt: a.removedAt, authority: a.authority, index });
    });
  }

  /** Number of enterprises held. */
  get size(): number {
    return this.byCode.size;
  }

  /** The stored record of a credit code, or undefined. */
  get(creditCode: string): StoredEnterprise | undefined {
    return this.byCode.get(creditCode)?.record;
  }

  /** The full record's JSON and ETag, or undefined for an unknown credit code. */
  serialized(creditCode: string): { json: string; etag: string } | undefined {
    return this.byCode.get(creditCode);
  }

  /** Credit codes of the enterprises a person represents, sorted; empty when none. */
  codesOfLegalRep(idNumber: string): readonly string[] {
    return this.byLegalRep.get(idNumber) ?? [];
  }

  /** The abnormal-operation list in keyset order (creditCode, index). */
  abnormalListings(): readonly AbnormalListing[] {
    return this.abnormal;
  }

  /** The change feed in order. */
  changeEvents(): readonly ChangeEvent[] {
    return this.events;
  }

  /** The id of the last event in the feed (0 when empty). */
  headEventId(): number {
    return this.events[this.events.length - 1]?.id ?? 0;
  }

  private append(kind: ChangeEvent['kind'], creditCode: string, status: EnterpriseStatus): ChangeEvent {
    const event: ChangeEvent = { id: this.headEventId() + 1, kind, creditCode, status, at: nowInChina() };
    this.events.push(event);
    return event;
  }

  /** Changes an enterprise's status: bumps its version (so its ETag changes) and appends a STATUS_CHANGED event. */
  changeStatus(creditCode: string, status: EnterpriseStatus): ChangeEvent {
    const entry = this.byCode.get(creditCode);
    if (!entry) throw new TypeError('changeStatus: no enterprise has this credit code');
    if (!ENTERPRISE_STATUSES.includes(status)) throw new TypeError(`changeStatus: status must be one of ${ENTERPRISE_STATUSES.join(', ')}, but got: ${String(status)}`);
    const record: StoredEnterprise = { ...entry.record, status, version: entry.record.version + 1 };
    this.byCode.set(creditCode, entryOf(record));
    return this.append('STATUS_CHANGED', creditCode, status);
  }

  /** Registers a new enterprise and appends a REGISTERED event (the start-up one-chain 一链办理 case). */
  register(enterprise: SeedEnterprise): ChangeEvent {
    if (this.byCode.has(enterprise.creditCode)) throw new TypeError('register: an enterprise with this credit code already exists');
    this.put(copyEnterprise(enterprise, 1));
    this.byLegalRep.get(enterprise.legalRepIdNumber)!.sort();
    this.abnormal.sort(compareListings);
    return this.append('REGISTERED', enterprise.creditCode, enterprise.status);
  }
}
