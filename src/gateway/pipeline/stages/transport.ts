/**
 * Transport refusals and CSRF protection, the first stage. A refusal the adapter made (wrong
 * method, body or headers too large, the hub stopping) is raised here, so that it is recorded like
 * every other outcome. CSRF: a browser sends a cross-site request without a CORS preflight only
 * with a "simple" media type (form encodings, text/plain); the hub accepts `application/json`
 * bodies only, so no page on another site can make a browser post a query here.
 */
import { HubError, HubErrorCode } from '../../../sdk';
import type { Flow } from '../types';

/** The media types a GraphQL request body may declare. */
export const ACCEPTED_MEDIA_TYPES: ReadonlySet<string> = new Set(['application/json', 'application/graphql-response+json']);

export function transportStage(flow: Flow): void {
  const { refusal, contentType } = flow.request;
  if (refusal) throw new HubError(refusal.code, refusal.message);
  if (contentType === undefined || !ACCEPTED_MEDIA_TYPES.has(contentType)) {
    throw new HubError(
      HubErrorCode.UNSUPPORTED_MEDIA_TYPE,
      contentType === undefined ? 'The request body needs "content-type: application/json".' : `Media type "${contentType.slice(0, 100)}" is not accepted: send "content-type: application/json".`,
    );
  }
}
