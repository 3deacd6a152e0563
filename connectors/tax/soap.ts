/**
 * A lean SOAP 1.1 client for the tax department's document/literal service: request envelopes
 * are built as strings (identifiers escaped), posted over the SDK's keep-alive HTTP upstream, and
 * replies are checked for well-formedness and parsed in one pass (xml.ts), fast-xml-parser
 * reading whatever lies outside that reader's plain subset. A Fault becomes a hub
 * error carrying only the fault code and a sanitized reason, never the department's text as is.
 */
import { XMLParser } from 'fast-xml-parser';
import {
  ConnectorUnavailableError,
  HubError,
  HubErrorCode,
  UpstreamInvalidResponseError,
  createHttpUpstream,
  traceDepartmentCall,
  tracingActive,
  type TracePropagation,
} from '../../src/sdk';
import { readPlainXml } from './xml';

/** The target namespace of the tax WSDL; SOAPAction values are `<namespace>/<operation>`. */
export const TAX_SOAP_NAMESPACE = 'urn:datarun:sandbox:tax:v1';

/** The operations of the tax WSDL the connector calls. */
export type TaxSoapOperation = 'GetTaxpayers' | 'GetDeedTaxPayments' | 'GetArrears' | 'GetCreditRating' | 'GetChanges' | 'Ping';

const SOAP11_ENVELOPE_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
const ENVELOPE_OPEN = `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${SOAP11_ENVELOPE_NS}" xmlns:t="${TAX_SOAP_NAMESPACE}">`;
const ENVELOPE_HEAD = `${ENVELOPE_OPEN}<soap:Body>`;
/**
 * The namespace of the trace context header block: W3C Trace Context defines no SOAP binding, so
 * the hub names its own. The block is optional (no mustUnderstand): a service that does not know
 * it ignores it.
 */
export const TRACE_CONTEXT_NAMESPACE = 'urn:datarun:trace-context:v1';
const ENVELOPE_TAIL = '</soap:Body></soap:Envelope>';

/** Elements the WSDL declares with maxOccurs > 1: always arrays, even with one or no occurrence. */
const REPEATED_ELEMENTS = new Set(['taxpayer', 'notFound', 'payment', 'arrear', 'unit', 'change']);

const XML_SPECIAL = /[<>&"']/;
const XML_SPECIAL_ALL = /[<>&"']/g;
const XML_ENTITIES: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' };

/** Escapes text for an XML element or attribute value. */
export function escapeXml(text: string): string {
  return XML_SPECIAL.test(text) ? text.replace(XML_SPECIAL_ALL, (c) => XML_ENTITIES[c]!) : text;
}

/** The SOAP Header carrying a call's trace context (`traceparent`, and `tracestate` when there is one). */
export function traceHeaderBlock(propagation: TracePropagation): string {
  const state = propagation.tracestate ? `<tc:tracestate xmlns:tc="${TRACE_CONTEXT_NAMESPACE}">${escapeXml(propagation.tracestate)}</tc:tracestate>` : '';
  return `<soap:Header><tc:traceparent xmlns:tc="${TRACE_CONTEXT_NAMESPACE}">${escapeXml(propagation.traceparent)}</tc:traceparent>${state}</soap:Header>`;
}

/** The request element of one operation holding `values` as repeated `<t:element>` children. */
export function requestBody(operation: TaxSoapOperation, element: string, values: readonly string[]): string {
  let xml = `<t:${operation}Request>`;
  for (const value of values) xml += `<t:${element}>${escapeXml(value)}</t:${element}>`;
  return `${xml}</t:${operation}Request>`;
}

/**
 * A fault reason cut down to what cannot identify anyone: printable ASCII only (names and
 * addresses are Chinese), any token with four or more digits (identity numbers, unit numbers,
 * phone numbers) or an `@` masked, at most 160 characters.
 */
export function sanitizeFaultString(text: unknown): string {
  if (typeof text !== 'string' || text.trim() === '') return 'no reason given';
  const cleaned = text
    .replace(/[^\x20-\x7e]+/g, '*')
    .replace(/\S+/g, (token) => (token.includes('@') || token.replace(/\D/g, '').length >= 4 ? '***' : token))
    .trim();
  return cleaned.length > 160 ? `${cleaned.slice(0, 159)}…` : cleaned;
}

/** The hub error of a SOAP fault: Client faults are the request's fault, all others the department's. */
export function faultError(connector: string, fault: unknown): HubError {
  const f = fault !== null && typeof fault === 'object' ? (fault as Record<string, unknown>) : {};
  const faultcode = typeof f['faultcode'] === 'string' ? f['faultcode'].trim() : '';
  // The code is a QName (soap:Client, SOAP-ENV:Server.Busy); its prefix is whatever the envelope declared.
  const local = faultcode.slice(faultcode.indexOf(':') + 1);
  const code = /^[A-Za-z][\w.]{0,40}$/.test(local) ? local : 'unknown';
  if (code === 'Client' || code.startsWith('Client.')) {
    return new HubError(
      HubErrorCode.BAD_USER_INPUT,
      `Department system "${connector}" rejected the request (SOAP fault ${code}): ${sanitizeFaultString(f['faultstring'])}.`,
      { connector, faultcode: code },
    );
  }
  return new ConnectorUnavailableError(connector, `SOAP fault ${code}`);
}

/** Settings of the SOAP client. */
export interface TaxSoapClientOptions {
  connector: string;
  /** The SOAP endpoint URL. */
  url: string;
  timeoutMs: number;
  connections: number;
}

/** Calls operations of the tax SOAP service and returns the content of their response element. */
export interface TaxSoapClient {
  /**
   * Posts one request element (from `requestBody`) and returns the parsed `<operation>Response`
   * element: an object, with repeated elements as arrays and every value as text.
   */
  call(operation: TaxSoapOperation, body: string, signal?: AbortSignal, batchSize?: number): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * The XML parser of the tax service's replies (fast-xml-parser): every value stays text, namespace
 * prefixes dropped, `repeated` elements always arrays. `readPlainXml` (xml.ts) builds the same
 * object in one pass for plain replies; its tests compare it with this very parser.
 */
export function createTaxXmlParser(repeated: ReadonlySet<string> = REPEATED_ELEMENTS): XMLParser {
  return new XMLParser({
    removeNSPrefix: true,
    ignoreAttributes: true,
    ignoreDeclaration: true,
    ignorePiTags: true,
    // Every value stays text: identifiers like 000123 must not turn into numbers; amounts are parsed where the schema says decimal.
    parseTagValue: false,
    trimValues: true,
    isArray: (name) => repeated.has(name),
    // Callbacks get the parser's matcher instead of a path string built for every element (about a quarter of the parse time).
    jPath: false,
  });
}

/** Creates the SOAP client of the tax department (one keep-alive pool). */
export function createTaxSoapClient(options: TaxSoapClientOptions): TaxSoapClient {
  const { connector } = options;
  const upstream = createHttpUpstream({ connector, baseUrl: options.url, timeoutMs: options.timeoutMs, connections: options.connections });
  // The upstream appends the call path to the URL's path; an empty path posts to the endpoint itself.
  const path = new URL(options.url).pathname.replace(/\/$/, '') === '' ? '/' : '';
  const parser = createTaxXmlParser();

  return {
    async call(operation, body, signal, batchSize) {
      // Traced, the call's span wraps the POST (which sends the HTTP traceparent header) and its
      // trace context also goes in the envelope's Header, for services that read only the envelope.
      const post = (propagation: TracePropagation | undefined) =>
        upstream.request({
          method: 'POST',
          path,
          headers: {
            'content-type': 'text/xml; charset=utf-8',
            accept: 'text/xml',
            soapaction: `"${TAX_SOAP_NAMESPACE}/${operation}"`,
          },
          body: propagation ? ENVELOPE_OPEN + traceHeaderBlock(propagation) + '<soap:Body>' + body + ENVELOPE_TAIL : ENVELOPE_HEAD + body + ENVELOPE_TAIL,
          signal,
          // SOAP 1.1 sends a Fault with HTTP 500: read it rather than fail on the status.
          acceptStatus: [500],
        });
      const res = tracingActive()
        ? await traceDepartmentCall({ connector, operation, protocol: 'soap', ...(batchSize !== undefined ? { batchSize } : {}) }, post)
        : await post(undefined);
      // The one-pass reader checks well-formedness as it builds the object; what it leaves (a
      // document outside its plain subset, or not well-formed) goes to fast-xml-parser, whose `true`
      // validates first: without it a truncated envelope parses as a shorter answer.
      let document: unknown = readPlainXml(res.body, REPEATED_ELEMENTS);
      if (document === undefined) {
        try {
          document = parser.parse(res.body, true);
        } catch {
          // The parser's message quotes the body; the error carries neither.
          if (res.status === 500) throw new ConnectorUnavailableError(connector, 'HTTP status 500');
          throw new UpstreamInvalidResponseError(connector, 'the body is not well-formed XML');
        }
      }
      const envelope = (document as Record<string, unknown> | null)?.['Envelope'];
      const soapBody = envelope !== null && typeof envelope === 'object' ? (envelope as Record<string, unknown>)['Body'] : undefined;
      if (soapBody === null || typeof soapBody !== 'object') {
        if (res.status === 500) throw new ConnectorUnavailableError(connector, 'HTTP status 500');
        throw new UpstreamInvalidResponseError(connector, 'the body is not a SOAP envelope');
      }
      const content = soapBody as Record<string, unknown>;
      if ('Fault' in content) throw faultError(connector, content['Fault']);
      if (res.status === 500) throw new ConnectorUnavailableError(connector, 'HTTP status 500 without a SOAP fault');
      const response = content[`${operation}Response`];
      // An empty response element (`<GetTaxpayersResponse/>`) parses as ''.
      if (response === '') return {};
      if (response === null || typeof response !== 'object' || Array.isArray(response)) {
        throw new UpstreamInvalidResponseError(connector, `the SOAP body holds no ${operation}Response element`);
      }
      return response as Record<string, unknown>;
    },
    close: () => upstream.close(),
  };
}
