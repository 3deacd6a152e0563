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
  // JSON is UTF-8 (RFC 8259): a body declared in another charset would be read wrongly, not refused later.
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new HubError(HubErrorCode.UNSUPPORTED_MEDIA_TYPE, `Charset ${shown(charset)} is not accepted: a JSON body is UTF-8.`);
  }
  // The hub reads the body as sent (its signature covers those bytes): a compressed body would only fail as "not JSON".
  if (contentEncoding !== undefined && contentEncoding !== 'identity') {
    throw new HubError(HubErrorCode.UNSUPPORTED_MEDIA_TYPE, `Content encoding ${shown(contentEncoding)} is not accepted: send the body uncompressed.`);
  }
}
