/**
 * Transport refusals and CSRF protection, the first stage. A refusal the adapter made (wrong
 * method, body or headers too large, the hub stopping) is raised here, so that it is recorded like
 * every other outcome. CSRF: a browser sends a cross-site request without a CORS preflight only
 * with a "simple" media type (form encodings, text/plain); the hub accepts `application/json`
 * bodies only, so no page on another site can make a browser post a query here. A body must also
 * be what the hub reads: UTF-8 (a `charset` parameter, when given, says so) and not compressed.
 */
import { HubError, HubErrorCode } from '../../../sdk';
import type { Flow } from '../types';

/** The media types a GraphQL request body may declare. */
export const ACCEPTED_MEDIA_TYPES: ReadonlySet<string> = new Set(['application/json', 'application/graphql-response+json']);

/** Shown in a refusal: a header value cut to 100 characters. */
const shown = (value: string): string => JSON.stringify(value.slice(0, 100));

export function transportStage(flow: Flow): void {
  const { refusal, contentType, charset, contentEncoding } = flow.request;
  if (refusal) throw new HubError(refusal.code, refusal.message);
  if (contentType === undefined || !ACCEPTED_MEDIA_TYPES.has(contentType)) {
    throw new HubError(
      HubErrorCode.UNSUPPORTED_MEDIA_TYPE,
      contentType === undefined ? 'The request body needs "content-type: application/json".' : `Media type ${shown(contentType)} is not accepted: send "content-type: application/json".`,
    );
  }
  const encoding = bodyEncodingProblem(charset, contentEncoding);
  if (encoding) throw new HubError(HubErrorCode.UNSUPPORTED_MEDIA_TYPE, encoding);
}

/**
 * Why a JSON body declared with this charset and content encoding cannot be read as sent;
 * undefined when it can. Shared with the console's own routes, which read their bodies themselves.
 */
export function bodyEncodingProblem(charset: string | undefined, contentEncoding: string | undefined): string | undefined {
  // JSON is UTF-8 (RFC 8259): a body declared in another charset would be read wrongly, not refused later.
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') return `Charset ${shown(charset)} is not accepted: a JSON body is UTF-8.`;
  // The hub reads the body as sent (its signature covers those bytes): a compressed body would only fail as "not JSON".
  if (contentEncoding !== undefined && contentEncoding !== 'identity') return `Content encoding ${shown(contentEncoding)} is not accepted: send the body uncompressed.`;
  return undefined;
}
