/**
 * A hand-written reader of the enterprise batch reply (`GET /v1/enterprises`), read on every
 * request that names an enterprise: it accepts only what `enterpriseBatchReply` (schemas.ts)
 * accepts and builds the same output (schema keys only, in schema order, new objects and arrays).
 * Anything it does not accept answers undefined and goes to the zod schema, which then names the
 * problem as before.
 */
import type { AbnormalOperationRecord, EnterpriseRecord, LicenceRecord, PenaltyRecord, PermitRecord } from './schemas';

const KINDS = new Set(['LIMITED_LIABILITY', 'JOINT_STOCK', 'SOLE_PROPRIETORSHIP', 'PARTNERSHIP', 'INDIVIDUAL_BUSINESS']);
const STATUSES = new Set(['ACTIVE', 'ABNORMAL', 'REVOKED', 'CANCELLED']);

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const isString = (value: unknown): value is string => typeof value === 'string';
const isStringOrNull = (value: unknown): value is string | null => value === null || typeof value === 'string';
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isMember = (set: ReadonlySet<string>, value: unknown): value is string => typeof value === 'string' && set.has(value);

function list<R>(value: unknown, item: (value: unknown) => R | undefined): R[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out = new Array<R>(value.length);
  for (let i = 0; i < value.length; i++) {
    const record = item(value[i]);
    if (record === undefined) return undefined;
    out[i] = record;
  }
  return out;
}

function licence(l: unknown): LicenceRecord | undefined {
  if (!isObject(l)) return undefined;
  const { licenceNumber, issuedAt, validUntil, scope, authority } = l;
  if (!isString(licenceNumber) || !isString(issuedAt) || !isStringOrNull(validUntil) || !isString(scope) || !isString(authority)) return undefined;
  return { licenceNumber, issuedAt, validUntil, scope, authority };
}

function permit(p: unknown): PermitRecord | undefined {
  if (!isObject(p)) return undefined;
  const { permitNumber, kind, issuedAt, validUntil, authority } = p;
  if (!isString(permitNumber) || !isString(kind) || !isString(issuedAt) || !isString(validUntil) || !isString(authority)) return undefined;
  return { permitNumber, kind, issuedAt, validUntil, authority };
}

function penalty(p: unknown): PenaltyRecord | undefined {
  if (!isObject(p)) return undefined;
  const { decisionNumber, reason, amount, decidedAt, authority } = p;
  if (!isString(decisionNumber) || !isString(reason) || !isNumber(amount) || !isString(decidedAt) || !isString(authority)) return undefined;
  return { decisionNumber, reason, amount, decidedAt, authority };
}

function abnormal(a: unknown): AbnormalOperationRecord | undefined {
  if (!isObject(a)) return undefined;
  const { reason, listedAt, removedAt, authority } = a;
  if (!isString(reason) || !isString(listedAt) || !isStringOrNull(removedAt) || !isString(authority)) return undefined;
  return { reason, listedAt, removedAt, authority };
}

function enterprise(e: unknown): EnterpriseRecord | undefined {
  if (!isObject(e)) return undefined;
  const { creditCode, name, kind, status, legalRepIdNumber, registeredCapital, establishedAt, address, industry, version } = e;
  if (!isString(creditCode) || !isString(name) || !isMember(KINDS, kind) || !isMember(STATUSES, status) || !isString(legalRepIdNumber)) return undefined;
  if (!isNumber(registeredCapital) || !isString(establishedAt) || !isString(address) || !isString(industry) || !isNumber(version)) return undefined;
  let licenceRecord: LicenceRecord | null = null;
  if (e['licence'] !== null) {
    const read = licence(e['licence']);
    if (read === undefined) return undefined;
    licenceRecord = read;
  }
  const permits = list(e['permits'], permit);
  const penalties = list(e['penalties'], penalty);
  const abnormalOperations = list(e['abnormalOperations'], abnormal);
  if (permits === undefined || penalties === undefined || abnormalOperations === undefined) return undefined;
  return {
    creditCode,
    name,
    kind: kind as EnterpriseRecord['kind'],
    status: status as EnterpriseRecord['status'],
    legalRepIdNumber,
    registeredCapital,
    establishedAt,
    address,
    industry,
    version,
    licence: licenceRecord,
    permits,
    penalties,
    abnormalOperations,
  };
}

/** `enterpriseBatchReply`'s output for a reply it accepts, or undefined (then ask the schema). */
export function readEnterpriseBatch(data: unknown): { items: EnterpriseRecord[] } | undefined {
  if (!isObject(data)) return undefined;
  const items = list(data['items'], enterprise);
  return items === undefined ? undefined : { items };
}
