/**
 * The department calls an integrator writes by hand, shared by the plain-Node baselines (B2, the
 * property transfer; B2-S3, the living allowance): SQL via `pg` to real estate (the real-estate
 * connector's own statements, so the database does the same work as for the hub), REST via undici
 * to social security and market regulation, a SOAP POST parsed by fast-xml-parser to tax. The
 * same calls, batch sizes and connection counts as the hub's connectors; no validation beyond
 * what composing the reply needs.
 *
 * Env: B2_RE_URL, B2_SS_URL, B2_SS_KEY, B2_TAX_URL, B2_MR_URL.
 */
import { XMLParser } from 'fast-xml-parser';
import { Pool as PgPool } from 'pg';
import { Pool as HttpPool } from 'undici';
import { realEstateStatements } from '../../connectors/real-estate/records';

/** Connections per department: the hub's defaults (pg pool 10, HTTP upstreams 16). */
const PG_POOL = 10;
const HTTP_CONNECTIONS = 16;
const TAX_NS = 'urn:datarun:sandbox:tax:v1';
/** Records per page of the by-representative query, and pages at most: the market-regulation connector's defaults. */
const LEGAL_REP_PAGE_SIZE = 500;
const LEGAL_REP_MAX_PAGES = 20;
/** Months of contributions asked of social security: the hub's connector always asks the most the graph allows. */
const CONTRIBUTION_MONTHS = 120;

export interface Owner { kind: 'PERSON' | 'ENTERPRISE'; ownerId: string; share: number; ownership: string }
export interface Transfer { fromKind: 'PERSON' | 'ENTERPRISE'; fromId: string; toKind: 'PERSON' | 'ENTERPRISE'; toId: string; date: string; price: number }
/** A unit as the real-estate statements return it. */
export interface PropertyRow {
  unitNumber: string; certificateNumber: string; address: string; area: number; usage: string;
  owners: Owner[];
  mortgages: { registrationNumber: string; mortgagee: string; amount: number; status: string }[];
  seizures: { seizureNumber: string; court: string; caseNumber: string; status: string }[];
  transfers: Transfer[];
}
/** An enterprise as market regulation returns it. */
export interface Enterprise { creditCode: string; name: string; status: string; registeredCapital: number; legalRepIdNumber: string; abnormalOperations: { reason: string; listedAt: string; removedAt: string | null }[] }
/** An insured person as social security returns it (contributions newest first). */
export interface Insured {
  idNumber: string; name: string; scheme: string; status: string;
  contributions: { period: string; insuranceType: string; base: number; amount: number }[];
}
/** A taxpayer as the SOAP reply holds it (every value text). */
export interface Taxpayer {
  taxpayerId: string; kind: string; creditRating?: string;
  payment?: { voucherNumber: string; taxType: string; amount: string; period: string; paidAt: string; unitNumber?: string }[];
  arrear?: unknown[];
}

/** The four departments' calls. */
export interface DepartmentClients {
  /** One unit by number; null when the registry does not know it. */
  property(unitNumber: string): Promise<PropertyRow | null>;
  /** The units each owner holds, in unit-number order, a co-owned unit once per owner asked. */
  propertiesByOwner(ownerIds: string[]): Promise<Map<string, PropertyRow[]>>;
  enterprises(codes: string[]): Promise<Map<string, Enterprise>>;
  /** The enterprises each person is the legal representative of, following every page. */
  enterprisesByLegalRep(idNumbers: string[]): Promise<Map<string, Enterprise[]>>;
  insured(ids: string[]): Promise<Map<string, Insured>>;
  taxpayers(ids: string[]): Promise<Map<string, Taxpayer>>;
  close(): Promise<void>;
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

/** Opens the pools to the four departments named by the environment. */
export function createDepartmentClients(): DepartmentClients {
  const pg = new PgPool({ connectionString: env('B2_RE_URL'), max: PG_POOL });
  pg.on('error', () => undefined);
  const statements = realEstateStatements('real_estate');
  const ssUrl = new URL(env('B2_SS_URL'));
  const ss = new HttpPool(ssUrl.origin, { connections: HTTP_CONNECTIONS });
  const ssKey = env('B2_SS_KEY');
  const mrUrl = new URL(env('B2_MR_URL'));
  const mr = new HttpPool(mrUrl.origin, { connections: HTTP_CONNECTIONS });
  const taxUrl = new URL(env('B2_TAX_URL'));
  const tax = new HttpPool(taxUrl.origin, { connections: HTTP_CONNECTIONS });
  const xml = new XMLParser({
    removeNSPrefix: true,
    ignoreAttributes: true,
    parseTagValue: false,
    isArray: (name) => name === 'taxpayer' || name === 'payment' || name === 'arrear' || name === 'notFound',
  });

  const rows = async (text: string, values: unknown[]): Promise<PropertyRow[]> => {
    const result = await pg.query({ text, values, rowMode: 'array' });
    return (result.rows as unknown[][]).map((row) => JSON.parse(row[0] as string) as PropertyRow);
  };

  return {
    async property(unitNumber) {
      return (await rows(statements.byUnit, [[unitNumber]]))[0] ?? null;
    },

    async propertiesByOwner(ownerIds) {
      const asked = new Set(ownerIds);
      const byOwner = new Map<string, PropertyRow[]>();
      for (const record of await rows(statements.byOwner, [ownerIds])) {
        for (const owner of record.owners) {
          if (!asked.has(owner.ownerId)) continue;
          const list = byOwner.get(owner.ownerId);
          if (!list) byOwner.set(owner.ownerId, [record]);
          else if (list[list.length - 1] !== record) list.push(record);
        }
      }
      return byOwner;
    },

    async enterprises(codes) {
      const res = await mr.request({ method: 'GET', path: `/v1/enterprises?creditCodes=${codes.join(',')}` });
      if (res.statusCode !== 200) throw new Error(`market regulation answered ${res.statusCode}`);
      const reply = (await res.body.json()) as { items: Enterprise[] };
      return new Map(reply.items.map((e) => [e.creditCode, e]));
    },

    async enterprisesByLegalRep(idNumbers) {
      const byRep = new Map<string, Enterprise[]>(idNumbers.map((id) => [id, []]));
      let cursor: string | null = null;
      for (let page = 1; ; page++) {
        const res = await mr.request({
          method: 'POST',
          path: '/v1/legal-representatives/enterprises',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(cursor === null ? { idNumbers, limit: LEGAL_REP_PAGE_SIZE } : { idNumbers, limit: LEGAL_REP_PAGE_SIZE, cursor }),
        });
        if (res.statusCode !== 200) throw new Error(`market regulation answered ${res.statusCode}`);
        const reply = (await res.body.json()) as { items: Enterprise[]; nextCursor: string | null };
        for (const e of reply.items) byRep.get(e.legalRepIdNumber)?.push(e);
        if (reply.nextCursor === null) return byRep;
        if (reply.nextCursor === cursor || page >= LEGAL_REP_MAX_PAGES) throw new Error('market regulation: the paging did not end');
        cursor = reply.nextCursor;
      }
    },

    async insured(ids) {
      const res = await ss.request({
        method: 'POST',
        path: '/api/v1/insured/batch',
        headers: { 'content-type': 'application/json', 'x-api-key': ssKey },
        body: JSON.stringify({ ids, months: CONTRIBUTION_MONTHS }),
      });
      if (res.statusCode !== 200) throw new Error(`social security answered ${res.statusCode}`);
      const reply = (await res.body.json()) as { items: Insured[] };
      return new Map(reply.items.map((p) => [p.idNumber, p]));
    },

    async taxpayers(ids) {
      let request = `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="${TAX_NS}"><soap:Body><t:GetTaxpayersRequest>`;
      for (const id of ids) request += `<t:taxpayerId>${id}</t:taxpayerId>`;
      request += '</t:GetTaxpayersRequest></soap:Body></soap:Envelope>';
      const res = await tax.request({
        method: 'POST',
        path: taxUrl.pathname,
        headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: `"${TAX_NS}/GetTaxpayers"` },
        body: request,
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`tax answered ${res.statusCode}`);
      const doc = xml.parse(text) as { Envelope: { Body: { GetTaxpayersResponse: { taxpayer?: Taxpayer[] } | '' } } };
      const response = doc.Envelope.Body.GetTaxpayersResponse;
      return new Map((response === '' ? [] : response.taxpayer ?? []).map((t) => [t.taxpayerId, t]));
    },

    async close() {
      await Promise.allSettled([pg.end(), ss.close(), mr.close(), tax.close()]);
    },
  };
}

/** Newest first by payment date, stable (payments of one day keep the department's order): the tax connector's order. */
export function newestFirst(a: { paidAt: string }, b: { paidAt: string }): number {
  return a.paidAt < b.paidAt ? 1 : a.paidAt > b.paidAt ? -1 : 0;
}
