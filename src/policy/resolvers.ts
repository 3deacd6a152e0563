import type { HubContext, Resolvers } from '../sdk';
import type { PolicyEngine } from './engine';

/** Options of `createPolicyResolvers`. */
export interface PolicyResolverOptions {
  /** The authenticated consumer id of the request (set on the context by the authentication step). */
  consumerOf(context: HubContext): string;
}

/**
 * The resolvers of `catalog` and `myGrants`, answered by the hub from the policy engine. The
 * engine may be given lazily, since it is built over the schema these resolvers are part of.
 */
export function createPolicyResolvers(engine: PolicyEngine | (() => PolicyEngine), options: PolicyResolverOptions): Resolvers {
  const get = typeof engine === 'function' ? engine : () => engine;
  return {
    Query: {
      catalog: (_parent, args) => get().catalog({ department: args.department ?? null, class: args.class ?? null }),
      myGrants: (_parent, args, context) => get().grantsOf(options.consumerOf(context), args.purpose ?? null),
    },
  };
}
