/**
 * Baseline B2, what an integrator writes without a hub: a plain `node:http` service answering the
 * property-transfer question by calling the four department systems directly, in parallel, and
 * composing the same JSON the hub returns. SQL via `pg` to real estate (the same statement as the
 * real-estate connector, so the database does the same work), REST via undici to social security
 * and market regulation, a SOAP POST parsed by fast-xml-parser to tax. A second round trip asks
 * for the names of the unit's other parties, as the hub's nested fields do. No schema validation,
 * no GraphQL: it reads `variables` from the GraphQL body the load generator sends to every server.
 *
 * Env: B2_RE_URL, B2_SS_URL, B2_SS_KEY, B2_TAX_URL, B2_MR_URL, B2_PORT (0). Prints `B2 ready at <url>`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import { Pool as PgPool } from 'pg';
import { Pool as HttpPool } from 'undici';
import { realEstateStatements } from '../../connectors/real-estate/records';

/** Connections per department: the hub's defaults (pg pool 10, HTTP upstreams 16). */
const PG_POOL = 10;
const HTTP_CONNECTIONS = 16;
const TAX_NS = 'urn:datarun:sandbox:tax:v1';

interface Owner { kind: 'PERSON' | 'ENTERPRISE'; ownerId: string; share: number; ownership: string }
interface Transfer { fromKind: 'PERSON' | 'ENTERPRISE'; fromId: string; toKind: 'PERSON' | 'ENTERPRISE'; toId: string; date: string; price: number }
interface PropertyRow {
  unitNumber: string; certificateNumber: string; address: string; area: number; usage: string;
  owners: Owner[];
  mortgages: { registrationNumber: string; mortgagee: string; amount: number; status: string }[];
  seizures: { seizureNumber: string; court: string; caseNumber: string; status: string }[];
  transfers: Transfer[];
}
interface Enterprise { creditCode: string; name: string; status: string; abnormalOperations: { reason: string; listedAt: string; removedAt: string | null }[] }
interface Insured { idNumber: string; name: string }
interface Taxpayer {
  taxpayerId: string; kind: string; creditRating?: string;
  payment?: { voucherNumber: string; taxType: string; amount: string; paidAt: string; unitNumber?: string }[];
  arrear?: unknown[];
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

const pg = new PgPool({ connectionString: env('B2_RE_URL'), max: PG_POOL });
pg.on('error', () => undefined);
const byUnit = realEstateStatements('real_estate').byUnit;
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

async function property(unitNumber: string): Promise<PropertyRow | null> {
  const result = await pg.query({ text: byUnit, values: [[unitNumber]], rowMode: 'array' });
  const cell = (result.rows[0] as unknown[] | undefined)?.[0];
  return typeof cell === 'string' ? (JSON.parse(cell) as PropertyRow) : null;
}

async function enterprises(codes: string[]): Promise<Map<string, Enterprise>> {
  const res = await mr.request({ method: 'GET', path: `/v1/enterprises?creditCodes=${codes.join(',')}` });
  if (res.statusCode !== 200) throw new Error(`market regulation answered ${res.statusCode}`);
  const reply = (await res.body.json()) as { items: Enterprise[] };
  return new Map(reply.items.map((e) => [e.creditCode, e]));
}

async function insured(ids: string[]): Promise<Map<string, Insured>> {
  // 120 months, as the hub's social-security connector always asks.
  const res = await ss.request({
    method: 'POST',
    path: '/api/v1/insured/batch',
    headers: { 'content-type': 'application/json', 'x-api-key': ssKey },
    body: JSON.stringify({ ids, months: 120 }),
  });
  if (res.statusCode !== 200) throw new Error(`social security answered ${res.statusCode}`);
  const reply = (await res.body.json()) as { items: Insured[] };
  return new Map(reply.items.map((p) => [p.idNumber, p]));
}

async function taxpayers(ids: string[]): Promise<Map<string, Taxpayer>> {
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
}

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
                .sort((a, b) => (a.paidAt < b.paidAt ? 1 : a.paidAt > b.paidAt ? -1 : 0))
                .map((p) => ({ voucherNumber: p.voucherNumber, amount: Number(p.amount), paidAt: p.paidAt, property: p.unitNumber ? { unitNumber: p.unitNumber } : null })),
            }
          : null,
    },
  };
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      try {
        const { variables } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { variables: { unitNumber: string; seller: string; buyer: string } };
        const text = JSON.stringify({ data: await propertyTransfer(variables) });
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
      } catch (error) {
        const text = JSON.stringify({ errors: [{ message: error instanceof Error ? error.message : 'failed' }] });
        res.writeHead(502, { 'content-type': 'application/json' }).end(text);
      }
    })();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.B2_PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`B2 ready at http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
const stop = (): void => {
  server.close();
  server.closeAllConnections();
  void Promise.allSettled([pg.end(), ss.close(), mr.close(), tax.close()]).finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
