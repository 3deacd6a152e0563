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
import { creditCodeCheckChar, orgCodeCheckChar } from '../../src/sdk';
import { nowInChina, todayInChina } from '../sandbox-kit';
import type { EnterpriseKind, EnterpriseStatus, SeedData, SeedEnterprise } from '../seed/model';

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

/** The kinds of change the feed reports. */
export const CHANGE_KINDS = ['REGISTERED', 'STATUS_CHANGED', 'ABNORMAL_LISTED', 'ABNORMAL_REMOVED', 'LICENCE_ISSUED', 'PERMIT_ISSUED', 'PENALTY_IMPOSED'] as const;

/** One kind of change of the feed. */
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** An event of the change feed, as the department publishes it. */
export interface ChangeEvent {
  /** Increasing position in the feed (also what the opaque feed cursor encodes). */
  id: number;
  kind: ChangeKind;
  creditCode: string;
  /** The enterprise's status after the change. */
  status: EnterpriseStatus;
  at: string;
  /** Facts of the change itself (the previous status, the decision number); absent on seeded events. */
  details?: Record<string, string | number | null>;
}

/** What a new registration 设立登记 gives; the department assigns the credit code. */
export interface NewEnterprise {
  name: string;
  kind: EnterpriseKind;
  legalRepIdNumber: string;
  registeredCapital: number;
  address: string;
  industry: string;
  /** The business scope 经营范围 of its licence. */
  scope: string;
}

/** The characters of a GB 32100 code (digits and capitals without I, O, S, V, Z). */
const CODE_CHARSET = '0123456789ABCDEFGHJKLMNPQRTUWXY';

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


/** The market-regulation department's data, with the operations its API serves. */
export class MarketRegulationStore {
  private readonly byCode = new Map<string, Entry>();
  /** Legal representative id → credit codes, sorted (the keyset order of the by-representative query). */
  private readonly byLegalRep = new Map<string, string[]>();
  /** Sorted by (creditCode, index): the keyset order of the abnormal-operation list. */
  private abnormal: AbnormalListing[] = [];
  private readonly events: ChangeEvent[] = [];
  /** Numbers of run-time documents (permits, penalty decisions), unique within this store. */
  private documentSeq = 0;

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

  private append(kind: ChangeKind, creditCode: string, status: EnterpriseStatus, details?: ChangeEvent['details']): ChangeEvent {
    const event: ChangeEvent = { id: this.headEventId() + 1, kind, creditCode, status, at: nowInChina(), ...(details ? { details } : {}) };
    this.events.push(event);
    return event;
  }

  /** The entry of a credit code, or a TypeError naming the operation. */
  private entry(operation: string, creditCode: string): Entry {
    const entry = this.byCode.get(creditCode);
    if (!entry) throw new TypeError(`${operation}: no enterprise has this credit code`);
    return entry;
  }

  /** Stores a changed record under a new version (new JSON and ETag) and rebuilds its abnormal-operation listings. */
  private replace(record: StoredEnterprise): void {
    this.byCode.set(record.creditCode, entryOf(record));
    this.abnormal = this.abnormal.filter((l) => l.creditCode !== record.creditCode);
    record.abnormalOperations.forEach((a, index) => {
      this.abnormal.push({ creditCode: record.creditCode, name: record.name, reason: a.reason, listedAt: a.listedAt, removedAt: a.removedAt, authority: a.authority, index });
    });
    this.abnormal.sort(compareListings);
  }

  /** The registration authority of an enterprise: the bureau of its district (from its credit code). */
  private authorityOf(record: StoredEnterprise): string {
    return record.licence?.authority ?? `市场监督管理局 ${record.creditCode.slice(2, 8)}`;
  }

  /** Changes an enterprise's status: bumps its version (so its ETag changes) and appends a STATUS_CHANGED event. */
  changeStatus(creditCode: string, status: EnterpriseStatus): ChangeEvent {
    const entry = this.entry('changeStatus', creditCode);
    if (!ENTERPRISE_STATUSES.includes(status)) throw new TypeError(`changeStatus: status must be one of ${ENTERPRISE_STATUSES.join(', ')}, but got: ${String(status)}`);
    const previous = entry.record.status;
    const record: StoredEnterprise = { ...entry.record, status, version: entry.record.version + 1 };
    this.byCode.set(creditCode, entryOf(record));
    return this.append('STATUS_CHANGED', creditCode, status, { previousStatus: previous });
  }

  /** Registers a new enterprise and appends a REGISTERED event (the start-up one-chain 一链办理 case). */
  register(enterprise: SeedEnterprise): ChangeEvent {
    if (this.byCode.has(enterprise.creditCode)) throw new TypeError('register: an enterprise with this credit code already exists');
    this.put(copyEnterprise(enterprise, 1));
    this.byLegalRep.get(enterprise.legalRepIdNumber)!.sort();
    this.abnormal.sort(compareListings);
    return this.append('REGISTERED', enterprise.creditCode, enterprise.status);
  }

  /**
   * A new registration 设立登记: the department assigns a GB 32100 credit code (registration
   * authority 9 + type 1, the district of the legal representative's identity number, an
   * organisation code with its check character, and the code's check character) and issues the
   * business licence (whose number is the credit code).
   */
  registerNew(input: NewEnterprise): { event: ChangeEvent; enterprise: StoredEnterprise } {
    const region = input.legalRepIdNumber.slice(0, 6);
    let creditCode = '';
    for (let attempt = 0; creditCode === '' || this.byCode.has(creditCode); attempt++) {
      // The organisation code: 'N' (new) and a sequence number in the store's order, made unique by trying the next one.
      const serial = (this.byCode.size + 1 + attempt).toString().padStart(7, '0').slice(-7);
      const org = `N${serial}`;
      const check = orgCodeCheckChar(org);
      if (!CODE_CHARSET.includes(check)) continue;
      const body = `91${region}${org}${check}`;
      creditCode = body + creditCodeCheckChar(body);
    }
    const today = todayInChina();
    const enterprise: SeedEnterprise = {
      creditCode,
      name: input.name,
      kind: input.kind,
      status: 'ACTIVE',
      legalRepIdNumber: input.legalRepIdNumber,
      registeredCapital: input.registeredCapital,
      establishedAt: today,
      address: input.address,
      industry: input.industry,
      licence: { licenceNumber: creditCode, issuedAt: today, validUntil: null, scope: input.scope, authority: `市场监督管理局 ${region}` },
      permits: [],
      penalties: [],
      abnormalOperations: [],
    };
    this.put(copyEnterprise(enterprise, 1));
    this.byLegalRep.get(enterprise.legalRepIdNumber)!.sort();
    this.abnormal.sort(compareListings);
    const event = this.append('REGISTERED', creditCode, 'ACTIVE', { licenceNumber: creditCode });
    return { event, enterprise: this.get(creditCode)! };
  }

  /** Lists an enterprise on the abnormal-operation list 列入经营异常名录; refused while it is listed. */
  listAbnormal(creditCode: string, reason: string): ChangeEvent {
    const { record } = this.entry('listAbnormal', creditCode);
    if (record.abnormalOperations.some((a) => a.removedAt === null)) throw new RangeError('listAbnormal: the enterprise is already on the abnormal-operation list');
    const listing = { reason, listedAt: todayInChina(), removedAt: null, authority: this.authorityOf(record) };
    this.replace({ ...record, abnormalOperations: [...record.abnormalOperations, listing], version: record.version + 1 });
    return this.append('ABNORMAL_LISTED', creditCode, record.status, { reason, listedAt: listing.listedAt });
  }

  /** Removes an enterprise from the abnormal-operation list 移出经营异常名录; refused when it is not listed. */
  removeAbnormal(creditCode: string, removalReason: string): ChangeEvent {
    const { record } = this.entry('removeAbnormal', creditCode);
    const index = record.abnormalOperations.findIndex((a) => a.removedAt === null);
    if (index < 0) throw new RangeError('removeAbnormal: the enterprise is not on the abnormal-operation list');
    const removedAt = todayInChina();
    const listings = record.abnormalOperations.map((a, i) => (i === index ? { ...a, removedAt } : a));
    this.replace({ ...record, abnormalOperations: listings, version: record.version + 1 });
    return this.append('ABNORMAL_REMOVED', creditCode, record.status, { removalReason, listedAt: record.abnormalOperations[index]!.listedAt });
  }

  /** Issues (or re-issues) the business licence 营业执照 with a new scope; its number stays the credit code. */
  issueLicence(creditCode: string, scope: string, validUntil: string | null): ChangeEvent {
    const { record } = this.entry('issueLicence', creditCode);
    const previousIssuedAt = record.licence?.issuedAt ?? null;
    const licence = { licenceNumber: creditCode, issuedAt: todayInChina(), validUntil, scope, authority: this.authorityOf(record) };
    this.replace({ ...record, licence, version: record.version + 1 });
    return this.append('LICENCE_ISSUED', creditCode, record.status, { licenceNumber: creditCode, previousIssuedAt });
  }

  /** Issues an administrative permit 行政许可 of a kind; the department numbers it. */
  issuePermit(creditCode: string, kind: string, validUntil: string): ChangeEvent {
    const { record } = this.entry('issuePermit', creditCode);
    const permitNumber = `XK${creditCode.slice(2, 8)}${String(++this.documentSeq).padStart(8, '0')}`;
    const permit = { permitNumber, kind, issuedAt: todayInChina(), validUntil, authority: this.authorityOf(record) };
    this.replace({ ...record, permits: [...record.permits, permit], version: record.version + 1 });
    return this.append('PERMIT_ISSUED', creditCode, record.status, { permitNumber, kind });
  }

  /** Imposes an administrative penalty 行政处罚; the department numbers the decision. */
  imposePenalty(creditCode: string, reason: string, amount: number): ChangeEvent {
    const { record } = this.entry('imposePenalty', creditCode);
    const decidedAt = todayInChina();
    const decisionNumber = `市监罚〔${decidedAt.slice(0, 4)}〕R${++this.documentSeq}号`;
    const penalty = { decisionNumber, reason, amount, decidedAt, authority: this.authorityOf(record) };
    this.replace({ ...record, penalties: [...record.penalties, penalty], version: record.version + 1 });
    return this.append('PENALTY_IMPOSED', creditCode, record.status, { decisionNumber, amount });
  }
}
