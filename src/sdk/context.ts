import type { Connector } from './connector';

/** What every resolver receives: the request's identity and its per-request loaders. */
export interface HubContext {
  /** The id of this request, also sent back in the `x-request-id` header. */
  readonly requestId: string;
  /** Aborted when the client goes away or the hub shuts down. */
  readonly signal: AbortSignal;
  /** The connector's DataLoaders for this request, created on first use and never shared across requests. */
  loadersOf<L>(connector: Connector<L>): L;
}

/** What a connector may know about the request its loaders serve. */
export interface RequestScope {
  readonly requestId: string;
  readonly signal: AbortSignal;
}

/** A HubContext whose loaders are created lazily, one set per connector per request. */
export function createHubContext(scope: RequestScope): HubContext {
  const loaders = new Map<string, unknown>();
  return {
    requestId: scope.requestId,
    signal: scope.signal,
    loadersOf<L>(connector: Connector<L>): L {
      let set = loaders.get(connector.id) as L | undefined;
      if (set === undefined) {
        set = connector.createLoaders(scope);
        loaders.set(connector.id, set);
      }
      return set;
    },
  };
}
