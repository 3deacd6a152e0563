/** A call to the hub that did not produce a GraphQL response: the hub was unreachable or answered something else. */
export class DataRunClientError extends Error {
  /** Stable code: `ERR_HUB_UNREACHABLE`, `ERR_HUB_RESPONSE_INVALID`, `ERR_CLIENT_OPTIONS_INVALID`, or `ERR_SUBSCRIPTION_REFUSED` (the hub refused to open a subscription; the message names its code). */
  readonly code: 'ERR_HUB_UNREACHABLE' | 'ERR_HUB_RESPONSE_INVALID' | 'ERR_CLIENT_OPTIONS_INVALID' | 'ERR_SUBSCRIPTION_REFUSED';

  constructor(code: DataRunClientError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'DataRunClientError';
  }
}
