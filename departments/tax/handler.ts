/**
 * The HTTP front of the tax SOAP service: control routes, the WSDL, request checks and the
 * injected faults, in front of node-soap's own request listener. node-soap answers a request it
 * cannot parse with a plain-text HTTP 500, so this front checks the envelope first and answers
 * every bad request with a proper soap:Client fault.
 */
import type http from 'node:http';
import { XMLValidator } from 'fast-xml-parser';
import { CHANGE_FEED_OPERATION, serveChangeRoutes, serveControl, type SandboxChangeRoute, type SandboxControl } from '../sandbox-kit';
import { TAX_NAMESPACE, TAX_OPERATIONS, type TaxOperation } from './service';

/** Largest request body the service reads; a batch of 100 ids is about 6 KiB. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

const SOAP11_ENVELOPE_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
const OPERATIONS = new Set<string>(TAX_OPERATIONS);
/** The local name of the first child of the SOAP Body. */
const BODY_CHILD = /<(?:[A-Za-z_][\w.-]*:)?Body(?:\s[^>]*)?>\s*<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)/;

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : c === '"' ? '&quot;' : '&apos;'));
}

/** A complete SOAP 1.1 fault envelope. */
/** The `traceparent` element of an envelope's Header, whatever its prefix. */
const ENVELOPE_TRACEPARENT = /<(?:[\w.-]+:)?Header\b[^>]*>[\s\S]*?<(?:[\w.-]+:)?traceparent\b[^>]*>([^<]{1,512})<\//;

export function faultEnvelope(faultcode: 'soap:Client' | 'soap:Server' | 'soap:VersionMismatch', faultstring: string): string {
  return (
    `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${SOAP11_ENVELOPE_NS}"><soap:Body><soap:Fault>` +
    `<faultcode>${faultcode}</faultcode><faultstring>${escapeXml(faultstring)}</faultstring></soap:Fault></soap:Body></soap:Envelope>`
  );
}

function sendFault(res: http.ServerResponse, faultcode: 'soap:Client' | 'soap:Server' | 'soap:VersionMismatch', faultstring: string): void {
  // SOAP 1.1 (section 6.2): a fault travels with HTTP 500.
  res.writeHead(500, { 'content-type': 'text/xml; charset=utf-8' }).end(faultEnvelope(faultcode, faultstring));
}

/**
 * What a `malformed` sandbox answers: HTTP 200 and an envelope cut off in the middle of a record,
 * which a parser that does not check well-formedness would silently read as a shorter answer.
 */
function malformedEnvelope(operation: TaxOperation): string {
  return (
    `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${SOAP11_ENVELOPE_NS}" xmlns:tns="${TAX_NAMESPACE}">` +
    `<soap:Body><tns:${operation}Response><tns:taxpayer><tns:kind>PER`
  );
}

/** The operation a request names, from its Body and its SOAPAction header, or why it names none. */
function operationOf(req: http.IncomingMessage, xml: string): { operation: TaxOperation } | { problem: string } {
  const child = BODY_CHILD.exec(xml)?.[1];
  if (child === undefined) return { problem: 'the SOAP Body must hold one request element' };
  const operation = child.endsWith('Request') ? child.slice(0, -'Request'.length) : '';
  if (!OPERATIONS.has(operation)) return { problem: `unknown request element ${child}; the operations are ${TAX_OPERATIONS.join(', ')}` };
  const header = req.headers.soapaction;
  const action = (Array.isArray(header) ? header[0] : header)?.replace(/^"|"$/g, '') ?? '';
  // SOAP 1.1 allows an empty SOAPAction; when one is sent it must name the same operation as the Body.
  if (action !== '' && action !== `${TAX_NAMESPACE}/${operation}` && action !== operation) {
    return { problem: `the SOAPAction header does not match the ${child} element` };
  }
  return { operation: operation as TaxOperation };
}

/** Options of `createTaxHandler`. */
export interface TaxHandlerOptions {
  control: SandboxControl;
  /** Path of the SOAP endpoint, e.g. `/services/TaxService`. */
  path: string;
  /** The WSDL text as served at `<endpoint>?wsdl`. */
  wsdl: () => string;
  /** node-soap's request listener, which reads `req.body` when it is set. */
  soap: http.RequestListener;
  /** The sandbox's change routes (`POST /__sandbox/<route>`), served before the control routes. */
  routes?: Readonly<Record<string, SandboxChangeRoute>>;
}

/**
 * The request listener of the tax sandbox. Order: change and control routes (untouched by faults), `down`
 * (socket dropped), the WSDL, request checks (Client faults), the call counter, latency, error
 * rate (Server fault), `malformed`, and finally node-soap.
 */
export function createTaxHandler(options: TaxHandlerOptions): http.RequestListener {
  const { control, path } = options;
  return (req, res) => {
    if (options.routes && serveChangeRoutes(options.routes, req, res)) return;
    if (serveControl(control, req, res)) return;
    if (control.faults.mode === 'down') {
      req.socket.destroy();
      return;
    }
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const pathname = (query < 0 ? url : url.slice(0, query)).replace(/\/$/, '');
    if (pathname !== path) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`no SOAP endpoint here; the tax service is at ${path}`);
      return;
    }
    if (req.method === 'GET' && query >= 0 && url.slice(query + 1).toLowerCase().startsWith('wsdl')) {
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' }).end(options.wsdl());
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST', 'content-type': 'text/plain; charset=utf-8' }).end('POST a SOAP 1.1 envelope, or GET ?wsdl');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) {
        tooLarge = true;
        chunks.length = 0;
      } else {
        chunks.push(chunk);
      }
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (tooLarge) return sendFault(res, 'soap:Client', `the request is larger than ${MAX_REQUEST_BYTES} bytes`);
      const body = Buffer.concat(chunks);
      const xml = body.toString('utf8');
      if (XMLValidator.validate(xml) !== true) return sendFault(res, 'soap:Client', 'the request is not well-formed XML');
      if (!xml.includes(SOAP11_ENVELOPE_NS)) return sendFault(res, 'soap:VersionMismatch', `the request must be a SOAP 1.1 envelope (${SOAP11_ENVELOPE_NS})`);
      const named = operationOf(req, xml);
      if ('problem' in named) return sendFault(res, 'soap:Client', named.problem);
      // A read of the change log counts under the one name every sandbox uses for its feed.
      control.count(named.operation === 'GetChanges' ? CHANGE_FEED_OPERATION : named.operation);
      // The trace context the hub sends (docs/tracing.md): HTTP header and the envelope's Header block.
      if (typeof req.headers.traceparent === 'string') control.lastTraceparent = req.headers.traceparent;
      const inEnvelope = ENVELOPE_TRACEPARENT.exec(xml);
      if (inEnvelope) control.lastEnvelopeTraceparent = inEnvelope[1];
      void control.delay().then(() => {
        if (control.shouldFail()) return sendFault(res, 'soap:Server', 'the tax service is temporarily unavailable (injected fault)');
        if (control.faults.mode === 'malformed') {
          res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' }).end(malformedEnvelope(named.operation));
          return;
        }
        // node-soap reads a pre-read body from req.body instead of the (consumed) stream.
        (req as http.IncomingMessage & { body?: Buffer }).body = body;
        options.soap(req, res);
      });
    });
  };
}
