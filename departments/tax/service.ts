/**
 * The operations of the tax SOAP service, as node-soap service methods: each checks its input
 * (1 to 100 valid identifiers), looks entries up in the store and returns the response object in
 * the element order of the WSDL. Bad input is a soap:Client fault that names the problem and the
 * position of the offending identifier, never its value.
 *
 * The two large answers (taxpayers, deed tax) are rendered here as XML and handed to node-soap as
 * raw content (its `$xml` key): node-soap's schema-driven serializer takes about 60 µs per
 * taxpayer record (6.5 ms for a batch of 100), which would make the sandbox, not the hub, the
 * bottleneck of every benchmark. node-soap still parses the request, dispatches the operation and
 * writes the envelope.
 */
import { citizenIdProblem, creditCodeProblem, unitNumberProblem } from '../../src/sdk';
import type { ArrearEntry, DeedTaxEntry, TaxChangeEntry, TaxStore, TaxpayerEntry } from './store';

/** The target namespace of the WSDL; SOAPAction values are `<namespace>/<operation>`. */
export const TAX_NAMESPACE = 'urn:datarun:sandbox:tax:v1';

/** Most identifiers one batch operation accepts. */
export const MAX_BATCH_IDS = 100;

/** The operations of the service, which are also the names of the call counters. */
export const TAX_OPERATIONS = ['GetTaxpayers', 'GetDeedTaxPayments', 'GetArrears', 'GetCreditRating', 'GetChanges', 'Ping'] as const;

/** Page sizes of GetChanges. */
export const CHANGES_LIMITS = { default: 100, max: 1000 } as const;

/** The GetChanges cursor that means the log's current end. */
export const LATEST_CHANGES_CURSOR = 'latest';

/** Encodes a GetChanges cursor: the id of the last change read, opaque to clients. */
export function encodeChangesCursor(id: number): string {
  return Buffer.from(`t1.${id}`, 'utf8').toString('base64url');
}

/** Decodes a GetChanges cursor; undefined for anything this service did not issue. */
export function decodeChangesCursor(cursor: string): number | undefined {
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(cursor)) return undefined;
  const m = /^t1\.(0|[1-9]\d{0,14})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : undefined;
}

/** One operation of the tax service. */
export type TaxOperation = (typeof TAX_OPERATIONS)[number];

/** A SOAP 1.1 fault as node-soap renders it (`statusCode` is the HTTP status of the reply). */
export interface SoapFaultError {
  Fault: { faultcode: string; faultstring: string; statusCode: number };
}

/** A soap:Client fault: the request is wrong and must not be retried as is. */
export function clientFault(faultstring: string): SoapFaultError {
  return { Fault: { faultcode: 'soap:Client', faultstring, statusCode: 500 } };
}

/** Reads a repeated request element, which node-soap gives as a value, an array or nothing. */
function idList(args: unknown, element: string): string[] {
  const value = args !== null && typeof args === 'object' ? (args as Record<string, unknown>)[element] : undefined;
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  if (list.length === 0) throw clientFault(`at least one ${element} is required`);
  if (list.length > MAX_BATCH_IDS) throw clientFault(`at most ${MAX_BATCH_IDS} ${element} elements per call, got ${list.length}`);
  return list.map((id, i) => {
    if (typeof id !== 'string') throw clientFault(`${element}[${i + 1}] must be text`);
    return id.trim();
  });
}

function taxpayerIds(args: unknown): string[] {
  const ids = idList(args, 'taxpayerId');
  ids.forEach((id, i) => {
    // Persons are registered by citizen identity number, enterprises by credit code.
    if (citizenIdProblem(id) !== undefined && creditCodeProblem(id) !== undefined) {
      throw clientFault(`taxpayerId[${i + 1}] is neither a valid citizen identity number nor a valid unified social credit code`);
    }
  });
  return ids;
}

function unitNumbers(args: unknown): string[] {
  const units = idList(args, 'unitNumber');
  units.forEach((unit, i) => {
    const problem = unitNumberProblem(unit);
    if (problem !== undefined) throw clientFault(`unitNumber[${i + 1}] ${problem}`);
  });
  return units;
}

const XML_SPECIAL = /[<>&"']/;
const XML_SPECIAL_ALL = /[<>&"']/g;
const XML_ENTITIES: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' };

/** Escapes text for an XML element (a no-op scan for the usual text without special characters). */
function esc(text: string): string {
  return XML_SPECIAL.test(text) ? text.replace(XML_SPECIAL_ALL, (c) => XML_ENTITIES[c]!) : text;
}

function arrearsXml(arrears: readonly ArrearEntry[]): string {
  let xml = '';
  for (const a of arrears) xml += `<arrear><taxType>${a.taxType}</taxType><amount>${a.amount}</amount><since>${a.since}</since></arrear>`;
  return xml;
}

/** One `Taxpayer` element, unqualified names in the default namespace node-soap declares on the response. */
function taxpayerXml(t: TaxpayerEntry): string {
  let xml =
    `<taxpayer><taxpayerId>${esc(t.taxpayerId)}</taxpayerId><kind>${t.kind}</kind><name>${esc(t.name)}</name>` +
    `<taxOffice>${esc(t.taxOffice)}</taxOffice><registeredAt>${t.registeredAt}</registeredAt>`;
  if (t.creditRating !== undefined) xml += `<creditRating>${t.creditRating}</creditRating>`;
  for (const p of t.payment) {
    xml +=
      `<payment><voucherNumber>${esc(p.voucherNumber)}</voucherNumber><taxType>${p.taxType}</taxType><amount>${p.amount}</amount>` +
      `<period>${p.period}</period><paidAt>${p.paidAt}</paidAt>${p.unitNumber === undefined ? '' : `<unitNumber>${esc(p.unitNumber)}</unitNumber>`}</payment>`;
  }
  return xml + arrearsXml(t.arrear) + '</taxpayer>';
}

function unitXml(unitNumber: string, payments: readonly DeedTaxEntry[]): string {
  let xml = `<unit><unitNumber>${esc(unitNumber)}</unitNumber>`;
  for (const p of payments) {
    xml +=
      `<payment><voucherNumber>${esc(p.voucherNumber)}</voucherNumber><amount>${p.amount}</amount><period>${p.period}</period>` +
      `<paidAt>${p.paidAt}</paidAt><payerKind>${p.payerKind}</payerKind><payerId>${esc(p.payerId)}</payerId></payment>`;
  }
  return xml + '</unit>';
}

function notFoundXml(ids: readonly string[]): string {
  let xml = '';
  for (const id of ids) xml += `<notFound>${esc(id)}</notFound>`;
  return xml;
}

function changeXml(c: TaxChangeEntry): string {
  return (
    `<change><id>${c.id}</id><type>${c.type}</type><taxpayerId>${esc(c.taxpayerId)}</taxpayerId><taxpayerKind>${c.taxpayerKind}</taxpayerKind>` +
    `<occurredAt>${c.occurredAt}</occurredAt><taxType>${c.taxType}</taxType><amount>${c.amount}</amount><since>${c.since}</since></change>`
  );
}

/** The changes after a cursor (keyset on the change id), as GetChangesResponse content. */
function changesPage(store: TaxStore, args: unknown): string {
  const fields = args !== null && typeof args === 'object' ? (args as Record<string, unknown>) : {};
  const rawLimit = fields['limit'];
  let limit: number = CHANGES_LIMITS.default;
  if (rawLimit !== undefined && rawLimit !== null && rawLimit !== '') {
    limit = typeof rawLimit === 'number' ? rawLimit : typeof rawLimit === 'string' && /^\d{1,6}$/.test(rawLimit.trim()) ? Number(rawLimit.trim()) : NaN;
    if (!Number.isInteger(limit) || limit < 1 || limit > CHANGES_LIMITS.max) throw clientFault(`limit must be an integer from 1 to ${CHANGES_LIMITS.max}`);
  }
  const changes = store.changes;
  const end = changes.at(-1)?.id ?? 0;
  const rawCursor = fields['cursor'];
  let after = 0;
  if (rawCursor !== undefined && rawCursor !== null && rawCursor !== '') {
    const cursor = typeof rawCursor === 'string' ? rawCursor.trim() : '';
    const decoded = cursor === LATEST_CHANGES_CURSOR ? end : decodeChangesCursor(cursor);
    if (decoded === undefined) throw clientFault('cursor is not a cursor this service issued');
    after = decoded;
  }
  // Ids are 1, 2, 3...: the change after `after` is at index `after`.
  const page = changes.slice(after, after + limit);
  const last = page.at(-1)?.id ?? after;
  let xml = '';
  for (const c of page) xml += changeXml(c);
  return `${xml}<nextCursor>${encodeChangesCursor(last)}</nextCursor><hasMore>${last < end}</hasMore>`;
}

/** Splits requested ids into the entries found (first occurrence, request order) and the ids not found. */
function lookUp<T>(ids: readonly string[], find: (entry: TaxpayerEntry) => T, store: TaxStore): { found: T[]; notFound: string[] } {
  const found: T[] = [];
  const notFound: string[] = [];
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) continue;
    seen.add(id);
    const entry = store.taxpayers.get(id);
    if (entry === undefined) notFound.push(id);
    else found.push(find(entry));
  }
  return { found, notFound };
}

/** The node-soap `services` object of the tax sandbox. */
export function createTaxServices(store: TaxStore): { TaxService: { TaxPort: Record<TaxOperation, (args: unknown) => unknown> } } {
  return {
    TaxService: {
      TaxPort: {
        GetTaxpayers(args) {
          const { found, notFound } = lookUp(taxpayerIds(args), taxpayerXml, store);
          return { $xml: found.join('') + notFoundXml(notFound) };
        },
        GetDeedTaxPayments(args) {
          const seen = new Set<string>();
          let xml = '';
          for (const unitNumber of unitNumbers(args)) {
            if (seen.has(unitNumber)) continue;
            seen.add(unitNumber);
            xml += unitXml(unitNumber, store.deedTaxByUnit.get(unitNumber) ?? []);
          }
          return { $xml: xml };
        },
        GetArrears(args) {
          const { found, notFound } = lookUp(taxpayerIds(args), (e): { taxpayerId: string; arrear: ArrearEntry[] } => ({ taxpayerId: e.taxpayerId, arrear: e.arrear }), store);
          return { taxpayer: found, notFound };
        },
        GetCreditRating(args) {
          const { found, notFound } = lookUp(
            taxpayerIds(args),
            (e) => (e.creditRating === undefined ? { taxpayerId: e.taxpayerId } : { taxpayerId: e.taxpayerId, creditRating: e.creditRating }),
            store,
          );
          return { taxpayer: found, notFound };
        },
        GetChanges(args) {
          return { $xml: changesPage(store, args) };
        },
        Ping() {
          return { status: 'OK', taxpayerCount: store.taxpayers.size };
        },
      },
    },
  };
}
