/**
 * The replies of the market-regulation API, as lean zod schemas: they run on the hot path, so
 * they check shapes and enums, not formats the department owns (dates, number formats).
 */
import { z } from 'zod';
import { UpstreamInvalidResponseError } from '../../src/sdk';
import type { EnterpriseKind, EnterpriseStatus } from '../../src/sdk';

/** Business licence 营业执照. */
export interface LicenceRecord {
  licenceNumber: string;
  issuedAt: string;
  /** Null for an unlimited term. */
  validUntil: string | null;
  scope: string;
  authority: string;
}

/** An administrative permit 行政许可. */
export interface PermitRecord {
  permitNumber: string;
  kind: string;
  issuedAt: string;
  validUntil: string;
  authority: string;
}

/** An administrative penalty 行政处罚. */
export interface PenaltyRecord {
  decisionNumber: string;
  reason: string;
  amount: number;
  decidedAt: string;
  authority: string;
}

/** A listing on the abnormal-operation list 经营异常名录. */
export interface AbnormalOperationRecord {
  reason: string;
  listedAt: string;
  removedAt: string | null;
  authority: string;
}

/** An enterprise as the market-regulation department holds it: registration, licence, permits, penalties, listings. */
export interface EnterpriseRecord {
  creditCode: string;
  name: string;
  kind: EnterpriseKind;
  status: EnterpriseStatus;
  /** Citizen identity number of the legal representative 法定代表人. */
  legalRepIdNumber: string;
  registeredCapital: number;
  establishedAt: string;
  address: string;
  industry: string;
  /** Bumped by the department on every change of the record. */
  version: number;
  licence: LicenceRecord | null;
  permits: PermitRecord[];
  penalties: PenaltyRecord[];
  abnormalOperations: AbnormalOperationRecord[];
}

/** The kinds of change the department's feed reports. */
export const ENTERPRISE_CHANGE_KINDS = ['REGISTERED', 'STATUS_CHANGED', 'ABNORMAL_LISTED', 'ABNORMAL_REMOVED', 'LICENCE_ISSUED', 'PERMIT_ISSUED', 'PENALTY_IMPOSED'] as const;

/** One event of the change feed: a registration, a status change, a listing, a licence, a permit or a penalty. */
export interface EnterpriseChangeEvent {
  /** Increasing position in the feed (for de-duplication; page with cursors, not ids). */
  id: number;
  kind: (typeof ENTERPRISE_CHANGE_KINDS)[number];
  creditCode: string;
  /** The enterprise's status after the change. */
  status: EnterpriseStatus;
  /** When the department recorded it (RFC 3339 with offset). */
  at: string;
  /** Facts of the change itself (previous status, decision number, amount); flat. */
  details?: Record<string, string | number | boolean | null>;
}

const kind = z.enum(['LIMITED_LIABILITY', 'JOINT_STOCK', 'SOLE_PROPRIETORSHIP', 'PARTNERSHIP', 'INDIVIDUAL_BUSINESS']);
const status = z.enum(['ACTIVE', 'ABNORMAL', 'REVOKED', 'CANCELLED']);

const licence = z.object({
  licenceNumber: z.string(),
  issuedAt: z.string(),
  validUntil: z.string().nullable(),
  scope: z.string(),
  authority: z.string(),
});

const enterprise: z.ZodType<EnterpriseRecord> = z.object({
  creditCode: z.string(),
  name: z.string(),
  kind,
  status,
  legalRepIdNumber: z.string(),
  registeredCapital: z.number(),
  establishedAt: z.string(),
  address: z.string(),
  industry: z.string(),
  version: z.number(),
  licence: licence.nullable(),
  permits: z.array(z.object({ permitNumber: z.string(), kind: z.string(), issuedAt: z.string(), validUntil: z.string(), authority: z.string() })),
  penalties: z.array(z.object({ decisionNumber: z.string(), reason: z.string(), amount: z.number(), decidedAt: z.string(), authority: z.string() })),
  abnormalOperations: z.array(z.object({ reason: z.string(), listedAt: z.string(), removedAt: z.string().nullable(), authority: z.string() })),
});

/** Reply of `GET /v1/enterprises?creditCodes=`. */
export const enterpriseBatchReply = z.object({ items: z.array(enterprise) });

/** Reply of `POST /v1/legal-representatives/enterprises`, one page. */
export const legalRepPageReply = z.object({ items: z.array(enterprise), nextCursor: z.string().min(1).nullable() });

/** Reply of `GET /v1/changes`, one page. */
export const changesPageReply = z.object({
  events: z.array(
    z.object({
      id: z.number().int().positive(),
      kind: z.enum(ENTERPRISE_CHANGE_KINDS),
      creditCode: z.string(),
      status,
      // RFC 3339 with an offset: the hub hands it on as the event's time.
      at: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/),
      details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
    }),
  ),
  nextCursor: z.string().min(1),
  hasMore: z.boolean(),
});

/** Reply of `GET /v1/health`. */
export const healthReply = z.object({ status: z.literal('ok') });

/**
 * Parses a reply, or throws UPSTREAM_INVALID_RESPONSE naming the first offending field by its
 * path and the kind of problem only: never a value, which may be personal data.
 */
export function parseReply<T>(connector: string, what: string, schema: z.ZodType<T>, data: unknown): T {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
  throw new UpstreamInvalidResponseError(connector, `${what}: field "${path}" does not match the contract (${issue?.code ?? 'invalid'})`);
}
