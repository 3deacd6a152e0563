/**
 * The error contract, as data: every code any part of the hub produces, with the HTTP status of a
 * reply it refuses, the exit code of `datarun` when a reply (or a command) carries it, what it
 * means, and who sees it. No HTTP here: adapters read `httpStatus`, the CLI reads `cliExitCode`,
 * README.md's error tables are checked against this object (test/unit/error-contract.test.ts).
 */

/** The exit codes of the `datarun` command. */
export const CLI_EXIT = Object.freeze({
  /** The command did what it was asked; a query's reply came back complete and verified. */
  OK: 0,
  /** Something unexpected: a bug, or a failure no other code describes. */
  INTERNAL: 1,
  /** The command was called wrongly: unknown flags, bad values, a file that cannot be read or used. */
  USAGE: 2,
  /** The hub refused the request as a whole (400, 401, 403, 405, 406, 413, 415, 429, 431). */
  REFUSED: 3,
  /** The reply carries data and errors: some fields are null. */
  PARTIAL: 4,
  /** The hub or a department it needs is unavailable (503, 504, connection refused): retry later. */
  UNAVAILABLE: 5,
  /** A seal, receipt, checkpoint or the access log did not verify. */
  VERIFY_FAILED: 6,
} as const);

/** One of the `datarun` exit codes. */
export type CliExitCode = (typeof CLI_EXIT)[keyof typeof CLI_EXIT];

/** What each exit code means, as README.md states it. */
export const CLI_EXIT_MEANING: Readonly<Record<CliExitCode, string>> = Object.freeze({
  0: 'success: the command did what it was asked; a query reply is complete and its receipt and seals verify',
  1: 'unexpected failure: a bug, or a failure no other code describes',
  2: 'usage error: unknown flag, bad value, a file that cannot be read or used',
  3: 'refused: the hub refused the request as a whole (HTTP 400, 401, 403, 405, 406, 413, 415, 429, 431)',
  4: 'partial data: the reply carries data and errors, some fields are null',
  5: 'unavailable: the hub or a department is unavailable (HTTP 503, 504, connection refused); retry later',
  6: 'verification failed: a seal, receipt, checkpoint or the access log did not verify',
});

/**
 * Who sees a code: `request` refuses the whole request with `httpStatus`; `field` nulls one
 * field of an otherwise complete reply (HTTP 200); `operator` stays in the hub's log, the CLI's
 * output or the code that drives a module, and never reaches a client as such.
 */
export type ErrorLevel = 'request' | 'field' | 'operator';

/** One code of the contract. */
export interface ErrorCodeInfo {
  /** The HTTP status of a reply this code refuses as a whole (200 for field-level codes). */
  readonly httpStatus: number;
  /** What `datarun` exits with when the reply or the command carries this code. */
  readonly cliExitCode: CliExitCode;
  /** One sentence: when the code is produced. */
  readonly meaning: string;
  readonly level: ErrorLevel;
}

const entry = (httpStatus: number, cliExitCode: CliExitCode, level: ErrorLevel, meaning: string): ErrorCodeInfo => Object.freeze({ httpStatus, cliExitCode, meaning, level });
const { INTERNAL, USAGE, REFUSED, PARTIAL, UNAVAILABLE, VERIFY_FAILED } = CLI_EXIT;

/** Every error code of the hub. */
export const ERROR_CODES = Object.freeze({
  // Request level: the whole request is refused with this status, no data.
  BAD_REQUEST: entry(400, REFUSED, 'request', 'the body is not UTF-8 JSON, not an object, or its query, variables or operationName have the wrong shape; a text with a lone surrogate or a number beyond a double in them; variables that do not fit their declared types; more than 200 consent tokens'),
  GRAPHQL_PARSE_FAILED: entry(400, REFUSED, 'request', 'the query is not valid GraphQL syntax'),
  GRAPHQL_VALIDATION_FAILED: entry(400, REFUSED, 'request', 'the query does not fit the schema (an unknown field, a wrong argument type)'),
  OPERATION_RESOLUTION_FAILURE: entry(400, REFUSED, 'request', 'the document has no operation of the given operationName, or several and none named'),
  QUERY_TOO_COMPLEX: entry(400, REFUSED, 'request', 'the query exceeds a configured limit of depth, aliases, fields or cost'),
  PERSISTED_QUERY_NOT_FOUND: entry(400, REFUSED, 'request', 'the persisted query hash is not known to the hub: send the query text with it'),
  PERSISTED_QUERY_HASH_MISMATCH: entry(400, REFUSED, 'request', 'the query text does not have the persisted query hash sent with it'),
  PERSISTED_QUERY_NOT_SUPPORTED: entry(400, REFUSED, 'request', 'persisted queries are not enabled on this hub'),
  UNAUTHENTICATED: entry(401, REFUSED, 'request', 'the request is not signed by a registered consumer, or its signature, body hash, audience, time window or one-time id fails'),
  POLICY_DENIED: entry(403, REFUSED, 'request', 'a selected field is not granted to this consumer for this purpose, or a required consent is missing'),
  METHOD_NOT_ALLOWED: entry(405, REFUSED, 'request', 'the HTTP method is not one the endpoint takes'),
  NOT_ACCEPTABLE: entry(406, REFUSED, 'request', 'the Accept header admits no media type the hub answers with'),
  PAYLOAD_TOO_LARGE: entry(413, REFUSED, 'request', 'the body is larger than the configured limit'),
  UNSUPPORTED_MEDIA_TYPE: entry(415, REFUSED, 'request', 'the body is not application/json, declares a charset other than UTF-8, or is compressed (Content-Encoding)'),
  RATE_LIMITED: entry(429, REFUSED, 'request', 'the consumer exceeded its configured rate: retry after the Retry-After seconds'),
  HEADERS_TOO_LARGE: entry(431, REFUSED, 'request', 'the request headers are larger than the hub accepts'),
  INTERNAL_SERVER_ERROR: entry(500, INTERNAL, 'request', 'a bug: details go only to the hub log; on one field, that field is null'),
  REPLAY_GUARD_UNAVAILABLE: entry(503, UNAVAILABLE, 'request', 'the replay guard cannot check the one-time id, so the request is refused (fail closed): retry later'),
  AUDIT_UNAVAILABLE: entry(503, UNAVAILABLE, 'request', 'the access record could not be written durably, so no data is sent (no audit, no data)'),
  SHUTTING_DOWN: entry(503, UNAVAILABLE, 'request', 'the hub is shutting down and takes no new requests: retry on another instance'),
  DEADLINE_EXCEEDED: entry(504, UNAVAILABLE, 'request', 'the request as a whole did not complete within its deadline'),
  SUBSCRIPTION_EXPIRED: entry(401, REFUSED, 'request', 'a subscription stream reached its configured lifetime and ended: open it again with a new signed request'),
  SUBSCRIPTION_LAGGING: entry(429, REFUSED, 'request', 'a subscription stream fell too far behind its events (the client reads too slowly) and ended: open it again'),

  // Field level: that field is null, the rest of the reply is complete (HTTP 200).
  BAD_USER_INPUT: entry(200, PARTIAL, 'field', 'an argument failed validation (an identifier with a wrong length or check character, a list that is too long)'),
  NOT_FOUND: entry(200, PARTIAL, 'field', 'the record asked for does not exist'),
  MISSING_CONSENT: entry(200, PARTIAL, 'field', 'a person reached through a link is withheld: the purpose requires their consent and the request carries none'),
  FORBIDDEN: entry(200, PARTIAL, 'field', 'the field needs a role the consumer does not have'),
  CONNECTOR_UNAVAILABLE: entry(200, PARTIAL, 'field', 'a department is down, refuses the call or answers an error'),
  CONNECTOR_TIMEOUT: entry(200, PARTIAL, 'field', 'a department did not answer within the connector timeout or the request deadline'),
  UPSTREAM_INVALID_RESPONSE: entry(200, PARTIAL, 'field', 'a department answered something its contract does not allow (invalid JSON, broken XML, rows of the wrong shape, text no receipt can carry)'),
  SEAL_INVALID: entry(200, VERIFY_FAILED, 'field', 'a record seal could not be produced or does not verify'),
  CASE_NOT_FOUND: entry(200, PARTIAL, 'field', 'no pushed case has the id asked for'),
  CASE_NOT_RECIPIENT: entry(200, PARTIAL, 'field', 'the department acting on a pushed case is not the one the case was pushed to'),
  CASE_ALREADY_CLAIMED: entry(200, PARTIAL, 'field', 'the pushed case was claimed before: a case is claimed once'),
  CASE_NOT_CLAIMED: entry(200, PARTIAL, 'field', 'feedback on a pushed case that has not been claimed: claim it first'),
  CASE_ALREADY_REPORTED: entry(200, PARTIAL, 'field', 'feedback on the pushed case was given before: a case is reported once'),
  PROOF_NOT_ESTABLISHED: entry(200, PARTIAL, 'field', 'the department says the statement of the proof asked for does not hold for this subject (a 无欠税证明 for a taxpayer with arrears): no proof is issued'),

  // Operator level: the shared state (src/state).
  REDIS_UNAVAILABLE: entry(503, UNAVAILABLE, 'operator', 'Redis could not be reached or did not answer in time'),
  REPLAY_GUARD_FULL: entry(503, UNAVAILABLE, 'operator', 'the in-memory replay guard holds as many live request ids as it may; clients see REPLAY_GUARD_UNAVAILABLE'),
  STREAM_SEQUENCE_CONFLICT: entry(500, INTERNAL, 'operator', 'a sequenced stream does not continue where the writer expects: two writers, or a rewound stream'),
  REDIS_SETTINGS_INVALID: entry(500, USAGE, 'operator', 'a Redis setting cannot be used'),

  // Operator level: pushed cases and the working-day calendar (src/cases).
  CALENDAR_INVALID: entry(500, USAGE, 'operator', 'the working-day calendar file cannot be used; the message names the date, year or setting at fault'),
  CALENDAR_YEAR_NOT_CONFIGURED: entry(500, USAGE, 'operator', 'a working-day count reaches a year the calendar has no holidays for: the operator must add that year'),
  CASES_CONFIG_INVALID: entry(500, USAGE, 'operator', 'the deadlines of pushed cases are configured with a value that cannot be used, or an event type has none'),
  CASES_STORE_CORRUPT: entry(500, INTERNAL, 'operator', 'the store of pushed cases holds something opening it must not paper over'),
  CASES_STORE_CONFLICT: entry(503, UNAVAILABLE, 'operator', 'a pushed case kept changing under a transition: retry later'),
  CASES_STORE_UNAVAILABLE: entry(503, UNAVAILABLE, 'operator', 'the file of pushed cases cannot be written or read, or is closed'),

  // Operator level: status lists of proofs (src/proofs).
  STATUS_LIST_BITS_INVALID: entry(500, INTERNAL, 'operator', 'a status list was asked for with bits other than 1, 2, 4 or 8'),
  STATUS_LIST_ENCODING_INVALID: entry(500, INTERNAL, 'operator', 'a status list lst is not base64url, not ZLIB/DEFLATE data, or inflates beyond the limit'),
  STATUS_VALUE_INVALID: entry(500, INTERNAL, 'operator', 'a status is not an integer that fits the list’s bits per entry'),
  STATUS_INDEX_OUT_OF_RANGE: entry(500, INTERNAL, 'operator', 'a status list index is not an integer inside the list, or was never handed out'),
  STATUS_LIST_TOKEN_INVALID: entry(500, INTERNAL, 'operator', 'a Status List Token cannot be signed as asked, or is read before it verified'),
  STATUS_LIST_OPTIONS_INVALID: entry(500, USAGE, 'operator', 'a status list allocator or store is configured with a value it cannot use'),
  STATUS_LIST_STORE_CORRUPT: entry(500, INTERNAL, 'operator', 'the file of a status list holds something opening it must not paper over'),
  STATUS_LIST_STORE_UNAVAILABLE: entry(503, UNAVAILABLE, 'operator', 'a status list cannot be written or read, or an index could not be handed out: retry later'),
  PROOF_INPUT_INVALID: entry(500, INTERNAL, 'operator', 'a proof, a presentation or a proof bundle cannot be made from what it was given; the message names the input at fault'),
  PROOF_QR_INVALID: entry(400, VERIFY_FAILED, 'operator', 'a QR payload of a proof cannot be read (not DRP1:, not Base45, not ZLIB, a damaged layout), or a proof too large for a QR code was given no reference URL'),

  // Operator level: the access log (src/audit).
  AUDIT_LOG_LOCKED: entry(500, INTERNAL, 'operator', 'another live process holds the access log for appending'),
  AUDIT_LOG_CORRUPT: entry(500, VERIFY_FAILED, 'operator', 'the access log is damaged in a way opening it must not paper over'),
  AUDIT_RECORD_INVALID: entry(500, INTERNAL, 'operator', 'a record handed to the access log is malformed (a programming error)'),
  AUDIT_OPTIONS_INVALID: entry(500, USAGE, 'operator', 'an option or command argument of the access log has a value it cannot use'),
  AUDIT_EXPORT_FAILED: entry(500, INTERNAL, 'operator', 'an export of access records could not be written'),
  AUDIT_INSTANCE_IN_USE: entry(500, INTERNAL, 'operator', 'another live hub process appends to this instance id’s audit stream in Redis'),
  AUDIT_STREAM_CONFLICT: entry(500, INTERNAL, 'operator', 'the audit stream in Redis already holds records past the one being appended'),
  AUDIT_REPLICAS_MISSING: entry(503, UNAVAILABLE, 'operator', 'fewer Redis replicas than required acknowledged an audit write in time'),

  // Operator level: the seal module (src/seal). A refused signed request reaches clients as UNAUTHENTICATED.
  ERR_UNAUTHENTICATED: entry(401, REFUSED, 'operator', 'a signed request token is missing or does not verify; clients see UNAUTHENTICATED with the reason'),
  ERR_TRUST_LIST_INVALID: entry(500, USAGE, 'operator', 'the trust list or a key file under the keys directory cannot be read or is not valid'),
  ERR_PRIVATE_KEY_MISSING: entry(500, USAGE, 'operator', 'a key the hub must hold has a public entry but no private key file'),
  ERR_KEY_FILE_INSECURE: entry(500, USAGE, 'operator', 'a private key file is readable by group or others'),
  ERR_KEY_MISMATCH: entry(500, USAGE, 'operator', 'a private key file does not belong to the public key the trust list names for its kid'),
  ERR_UNKNOWN_OWNER: entry(500, USAGE, 'operator', 'an owner id the trust list does not know'),
  ERR_UNKNOWN_KEY: entry(500, USAGE, 'operator', 'a key id the trust list does not know'),
  ERR_NO_SIGNING_KEY: entry(500, USAGE, 'operator', 'no valid private key to sign with for this owner and use'),
  ERR_ALG_NOT_SUPPORTED: entry(500, USAGE, 'operator', 'a signing algorithm the hub does not allow (only ES256, ES384 and EdDSA)'),
  ERR_JWK_INVALID: entry(500, USAGE, 'operator', 'a JWK or JWKS that cannot be used as given'),
  ERR_SEAL_INPUT_INVALID: entry(500, INTERNAL, 'operator', 'input to a signer that cannot be signed as given'),
  ERR_JCS_INVALID_INPUT: entry(500, INTERNAL, 'operator', 'a value that is not JSON data has no RFC 8785 canonical form'),
  ERR_KEY_STORE_LOCKED: entry(500, INTERNAL, 'operator', 'another process holds the keys directory lock for too long'),
  ERR_JWKS_UNAVAILABLE: entry(500, USAGE, 'operator', 'a JWKS file or URL cannot be read or does not hold a JWKS'),
  ERR_REVOCATION_TIME_INVALID: entry(500, USAGE, 'operator', 'a key revocation time that is not a time or is before the key’s validFrom'),
  ERR_PEER_STATEMENT_REFUSED: entry(500, VERIFY_FAILED, 'operator', 'a peer hub’s JWKS statement does not verify against the root pinned for it (wrong root or hub, expired, older than one accepted, foreign keys); `reason` says which'),
  ERR_PEER_UNKNOWN: entry(500, USAGE, 'operator', 'a peer hub that the federation trust list (federation.peers) does not name'),
  ERR_PEER_UNAVAILABLE: entry(503, UNAVAILABLE, 'operator', 'a peer hub’s JWKS statement cannot be fetched and no valid copy of it is cached'),
  ERR_PEER_SCHEMA_UNAVAILABLE: entry(503, UNAVAILABLE, 'operator', 'a peer hub’s operator route /federation/schema.graphql cannot be reached, or answers other than 200 (`datarun federation snapshot`)'),
  ERR_PEER_SCHEMA_INVALID: entry(500, VERIFY_FAILED, 'operator', 'what a peer hub’s /federation/schema.graphql answered is not a GraphQL schema (SDL) with a Query type, or is too large (`datarun federation snapshot`)'),

  // Operator level: webhook delivery (src/push).
  PUSH_TARGET_REFUSED: entry(400, REFUSED, 'operator', 'a webhook target is off the operator’s allow-list, or its host resolves to an address the allow-list does not permit (loopback, private, link-local, metadata)'),
  PUSH_INPUT_INVALID: entry(500, USAGE, 'operator', 'an option, event, key or secret handed to the delivery library cannot be used as given'),
  PUSH_NOT_DEAD: entry(400, USAGE, 'operator', 'replay or skip named an event that is not in the dead-letter list'),
  PUSH_QUEUE_CORRUPT: entry(500, INTERNAL, 'operator', 'the delivery queue file is damaged in a way opening it must not paper over'),
  WEBHOOK_VERIFY_FAILED: entry(401, VERIFY_FAILED, 'operator', 'a received webhook has missing headers, a stale timestamp, an unknown key id or no signature that verifies'),

  // Operator level: start-up and configuration.
  CONFIG_INVALID: entry(500, USAGE, 'operator', 'the hub configuration cannot be used; the message names every bad setting'),
  POLICY_CONFIG_INVALID: entry(500, USAGE, 'operator', 'the sharing policy file is invalid; one line per problem, each naming its entry'),
  SCHEMA_CLASSIFICATION_INVALID: entry(500, INTERNAL, 'operator', 'a field of the schema lacks its @share classification or carries an inconsistent one'),
  CONNECTOR_DEFINITION_INVALID: entry(500, INTERNAL, 'operator', 'a connector is defined or configured with a value it cannot use'),

  // Operator level: the TypeScript client (src/client) and the datarun command (src/cli).
  ERR_HUB_UNREACHABLE: entry(503, UNAVAILABLE, 'operator', 'the client could not reach the hub'),
  ERR_CLIENT_OPTIONS_INVALID: entry(400, USAGE, 'operator', 'the client was created without a signing key'),
  ERR_HUB_RESPONSE_INVALID: entry(500, INTERNAL, 'operator', 'the hub answered something that is not a GraphQL reply'),
  CLI_USAGE: entry(400, USAGE, 'operator', 'a datarun command was called with a missing or unusable argument'),
} as const satisfies Record<string, ErrorCodeInfo>);

/** Every code of the hub's error contract. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** True when `code` is one of the contract's codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/** The contract's entry of a code; an unknown code is treated as INTERNAL_SERVER_ERROR. */
export function errorInfo(code: string): ErrorCodeInfo {
  return isErrorCode(code) ? ERROR_CODES[code] : ERROR_CODES.INTERNAL_SERVER_ERROR;
}

/**
 * The code a client may see for an error with `code`: itself when its level is `request` or
 * `field`, INTERNAL_SERVER_ERROR for operator-level and unknown codes (their details stay in the log).
 */
export function clientCode(code: string): ErrorCode {
  return isErrorCode(code) && ERROR_CODES[code].level !== 'operator' ? code : 'INTERNAL_SERVER_ERROR';
}
