/**
 * A peer hub as a connector (跨域通办): `connectors.<id>` with `type: "hub"` puts part of another
 * city's hub behind this one. Every peer root field of one operation goes to the peer in one
 * signed request (this hub is a registered consumer of the peer, and the request carries the
 * original consumer's purpose, case number and operator), under the request's deadline; the
 * reply's values are served by response key, the peer's errors land on the fields they concern
 * (a peer that fails or refuses yields null and a coded error naming it, for its fields only),
 * and the peer's department seals pass through: this hub only withholds disclosures its own
 * reply does not show, and never signs them (docs/federation.md).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import DataLoader from 'dataloader';
import type { GraphQLError, GraphQLResolveInfo } from 'graphql';
import { z } from 'zod';
import {
  ConnectorDefinitionError,
  createHttpUpstream,
  defineConnector,
  defineConnectorModule,
  HubError,
  HubErrorCode,
  UpstreamInvalidResponseError,
  type Connector,
  type ConnectorModule,
  type ErrorCode,
  type FederationTrust,
  type RequestScope,
} from '../../sdk';
import { createRequestSigner, sealedFromPresentation, type PrivateJwk } from '../../seal';
import type { RequestContext } from '../request-context';
import type { SealingContext } from '../seals';
import { forwardAlias, forwardDocument, type ForwardedField } from './forward';
import { coordinatesRead, openCoordinates, peerGrantsOf, type PeerGrants } from './peer-grants';
import { derivePeerSchema, type PeerSchema } from './peer-schema';
import { verifyPeerValue, type PeerReplyCheck } from './verify-reply';

/** How long the peer's grants for one purpose are trusted before they are asked again, in ms. */
export const PEER_GRANTS_TTL_MS = 60_000;

/** The case number of this hub's look at a peer's grants: asked for no consumer's case (the peer's record shows it). */
export const PEER_GRANTS_CASE = 'peer-grants';

/** The purpose, case, operator and (for a caller's request) `obo` of a request to the peer. */
type RequestClaims = Parameters<ReturnType<typeof createRequestSigner>['authorization']>[1];

/** The settings of a peer hub connector (`connectors.<id>`). */
export const peerHubSettings = z.strictObject({
  type: z.literal('hub', { error: 'type must be "hub" for a peer hub' }),
  /** The peer's GraphQL endpoint (`https://hub.heze.example/graphql`). */
  url: z.url({ protocol: /^https?$/, error: 'url must be an absolute http(s) URL of the peer hub\'s /graphql' }),
  /** The peer's hub id: the audience of the requests this hub signs for it. */
  hub: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'hub must be the peer\'s hub id (lower-case letters, digits and -)'),
  /** This hub's consumer id at the peer. */
  consumer: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'consumer must be this hub\'s consumer id at the peer'),
  /** The private JWK file this hub signs its requests to the peer with (the peer registered its public key). */
  keyFile: z.string().min(1, 'keyFile must name the private key file this hub signs for the peer with'),
  /** PascalCase prefix of the peer's types here (`Heze`). */
  prefix: z.string().regex(/^[A-Z][A-Za-z0-9]{0,31}$/, 'prefix must be PascalCase (e.g. "Heze")'),
  /** The peer's root fields offered here, e.g. ["person", "enterprise"] (JSON text in the environment). */
  fields: z.preprocess((v) => (typeof v === 'string' ? JSON.parse(v) : v), z.array(z.string().regex(/^[a-z][A-Za-z0-9]*$/, 'each field must be a root field name')).min(1, 'fields must name at least one root field')),
  /** The peer's SDL snapshot (`datarun federation snapshot <the peer's operator URL>`). */
  schemaFile: z.string().min(1, 'schemaFile must name the peer\'s SDL snapshot'),
  /** Per call, connection included (ms). @default the hub's */
  timeoutMs: z.coerce.number().int().positive().max(120_000).optional(),
});

/** The validated settings of a peer hub. */
export type PeerHubSettings = z.output<typeof peerHubSettings>;

/** A GraphQL reply of the peer. */
interface PeerReply {
  data?: Record<string, unknown> | null;
  errors?: readonly { message?: unknown; path?: readonly (string | number)[]; extensions?: { code?: unknown } }[];
}

/** The loaders of one request: one batch of root fields per tick, one call to the peer per batch. */
interface PeerLoaders {
  readonly fields: DataLoader<{ field: ForwardedField; info: GraphQLResolveInfo; ctx: RequestContext }, unknown>;
}

/** Codes a peer's error keeps here (its others become CONNECTOR_UNAVAILABLE): what the caller can act on. */
const KEPT_CODES: ReadonlySet<string> = new Set([
  'POLICY_DENIED',
  'MISSING_CONSENT',
  'CONNECTOR_UNAVAILABLE',
  'CONNECTOR_TIMEOUT',
  'UPSTREAM_INVALID_RESPONSE',
  'BAD_USER_INPUT',
  'RATE_LIMITED',
  'NOT_FOUND',
]);

/** The module of a peer hub configured as `connectors.<id>` with `type: "hub"`. */
export function peerHubModuleFromSettings(id: string): ConnectorModule {
  let derived: PeerSchema | undefined;
  const schemaOf = (settings: PeerHubSettings): PeerSchema => {
    if (!derived) {
      let sdl: string;
      try {
        sdl = readFileSync(settings.schemaFile, 'utf8');
      } catch (error) {
        throw new ConnectorDefinitionError(`connector "${id}" (a peer hub): schemaFile ${settings.schemaFile} cannot be read (${(error as Error).message})`);
      }
      derived = derivePeerSchema({ connector: id, prefix: settings.prefix, rootFields: settings.fields, sdl });
    }
    return derived;
  };
  return defineConnectorModule({
    id,
    title: `Peer hub ${id}`,
    settings: peerHubSettings,
    // Replies depend on who asks and why (the peer's policy): never cached here.
    cacheTtlSeconds: 0,
    // The peer's departments seal its records.
    sealsNothing: true,
    typeDefs: (settings) => schemaOf(settings).typeDefs,
    create: (settings, environment) => {
      // A peer's seals are checked against its keys, which this hub takes only signed by the root its operator pinned.
      const trust = environment.federation;
      if (!trust?.pinned(settings.hub)) {
        throw new ConnectorDefinitionError(`connector "${id}" (a peer hub): the peer hub "${settings.hub}" is not in federation.peers: pin its federation root key (its operator gives it out of band, docs/federation.md)`);
      }
      return createPeerHubConnector(id, settings, schemaOf(settings), environment.defaultTimeoutMs, environment.hubId ?? (() => 'datarun'), trust);
    },
  }) as unknown as ConnectorModule;
}

/** Reads the private JWK this hub signs its requests to the peer with. */
function readKey(id: string, file: string): PrivateJwk {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PrivateJwk;
  } catch (error) {
    throw new ConnectorDefinitionError(`connector "${id}" (a peer hub): keyFile ${file} is not a readable private JWK (${(error as Error).message})`);
  }
}

/** The connector of a peer hub. */
export function createPeerHubConnector(
  id: string,
  settings: PeerHubSettings,
  schema: PeerSchema,
  defaultTimeoutMs: number,
  hubId: () => string,
  trust: FederationTrust,
): Connector & { readonly passedSeals: readonly string[] } {
  const url = new URL(settings.url);
  const timeoutMs = settings.timeoutMs ?? defaultTimeoutMs;
  const upstream = createHttpUpstream({ connector: id, baseUrl: url.origin, timeoutMs });
  const signer = createRequestSigner({ consumerId: settings.consumer, privateJwk: readKey(id, settings.keyFile), audience: settings.hub });
  const path = `${url.pathname}${url.search}`;
  const named = (message: string): string => `peer hub ${settings.hub} (${id}): ${message}`;

  const open = openCoordinates(schema.remote);
  const sealedTypes: ReadonlySet<string> = new Set(schema.sealedTypes);
  const replyCheck: PeerReplyCheck = {
    remote: schema.remote,
    verify: (token) => trust.verifySeal(settings.hub, token),
    invalid: (problem) => new HubError(HubErrorCode.UPSTREAM_INVALID_RESPONSE, named(problem), { hub: settings.hub, connector: id }),
  };
  const grantsByPurpose = new Map<string, { until: number; grants: Promise<PeerGrants | undefined> }>();

  /** The claims of a request for the caller: its purpose, case and operator, on its behalf (the peer records the call under the same federation id as this hub's record of the request). */
  function onBehalfOfCaller(ctx: RequestContext, caller: NonNullable<RequestContext['caller']>): RequestClaims {
    ctx.federationRequestId ??= `${hubId()}:${randomUUID()}`;
    return { purpose: caller.purpose, caseNumber: caller.caseNumber, operator: caller.operator, onBehalfOf: { hub: hubId(), consumer: caller.consumer, request: ctx.requestId, federation: ctx.federationRequestId } };
  }

  /** Signs and posts one GraphQL request to the peer with `claims`; its reply, or the error to give each field. */
  async function post(document: { query: string; variables: Record<string, unknown> }, signal: AbortSignal, claims: RequestClaims, size: number): Promise<PeerReply | HubError> {
    const body = JSON.stringify(document);
    try {
      const answer = await upstream.json<PeerReply>({
        method: 'POST',
        path,
        body,
        signal,
        operation: 'federated.query',
        batchSize: size,
        acceptStatus: [400, 401, 403, 429, 503],
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          authorization: signer.authorization(body, claims),
        },
      });
      const reply = answer.data;
      if (reply === null || typeof reply !== 'object' || (reply.data !== undefined && reply.data !== null && typeof reply.data !== 'object')) {
        return new UpstreamInvalidResponseError(id, 'the peer hub did not answer a GraphQL response');
      }
      return reply;
    } catch (error) {
      return error instanceof HubError ? error : new HubError(HubErrorCode.CONNECTOR_UNAVAILABLE, named('the call failed'));
    }
  }

  /**
   * What the peer grants this hub for the caller's purpose (its `myGrants`), kept a minute;
   * undefined when it cannot say. The look serves every caller asking for that purpose, so it is
   * asked as this hub itself: no `obo`, the case `PEER_GRANTS_CASE`, this hub's id as operator.
   */
  function grantsFor(ctx: RequestContext, caller: NonNullable<RequestContext['caller']>): Promise<PeerGrants | undefined> {
    const now = Date.now();
    const kept = grantsByPurpose.get(caller.purpose);
    if (kept && kept.until > now) return kept.grants;
    const asHub: RequestClaims = { purpose: caller.purpose, caseNumber: PEER_GRANTS_CASE, operator: hubId() };
    const grants = post({ query: 'query DatarunPeerGrants($purpose: String) { myGrants(purpose: $purpose) { fields { coordinate purpose } } }', variables: { purpose: caller.purpose } }, ctx.signal, asHub, 1).then((reply) => {
      const fields = reply instanceof HubError ? undefined : (reply.data?.myGrants as { fields?: unknown } | undefined)?.fields;
      if (!Array.isArray(fields)) {
        // Not known: ask again next time, and let the peer's own policy decide this time.
        grantsByPurpose.delete(caller.purpose);
        return undefined;
      }
      return peerGrantsOf(fields as { coordinate?: unknown; purpose?: unknown }[], caller.purpose, open);
    });
    grantsByPurpose.set(caller.purpose, { until: now + PEER_GRANTS_TTL_MS, grants });
    return grants;
  }

  /** One call for the root fields of one tick, all asked for the same caller. */
  async function call(batch: readonly { field: ForwardedField; info: GraphQLResolveInfo; ctx: RequestContext }[]): Promise<unknown[]> {
    const { info, ctx } = batch[0]!;
    const caller = ctx.caller;
    if (!caller) return batch.map(() => new HubError(HubErrorCode.FORBIDDEN, named('a peer hub answers signed requests only: this request has no signed caller to ask for')));
    // The peer's grants first: a root field reading what the peer does not grant this hub is refused here, without a call.
    const grants = await grantsFor(ctx, caller);
    const results: unknown[] = new Array(batch.length);
    const asked: number[] = [];
    batch.forEach((b, i) => {
      const denied = grants ? [...coordinatesRead(b.field, b.info.schema, b.info.fragments, schema.remoteNames)].filter((c) => !grants.allows(c)) : [];
      if (denied.length === 0) asked.push(i);
      else results[i] = new HubError(HubErrorCode.POLICY_DENIED, named(`does not grant this hub ${denied.sort().join(', ')} for ${caller.purpose}`), { hub: settings.hub, denied });
    });
    if (asked.length === 0) return results;
    const document = forwardDocument(
      asked.map((i) => batch[i]!.field),
      { schema: info.schema, fragments: info.fragments, operation: info.operation, variableValues: info.variableValues, remoteNames: schema.remoteNames, sealedTypes },
    );
    const reply = await post(document, ctx.signal, onBehalfOfCaller(ctx, caller), asked.length);
    if (reply instanceof HubError) {
      for (const i of asked) results[i] = reply;
      return results;
    }
    const data = reply.data ?? null;
    const errors = Array.isArray(reply.errors) ? reply.errors : [];
    // Errors without a path (a refused request): every field of the batch carries the first.
    const general = errors.find((e) => !Array.isArray(e.path) || e.path.length === 0 || !/^f\d+$/.test(String(e.path[0])));
    await Promise.all(asked.map(async (i, n) => {
      const alias = forwardAlias(n);
      // Every record checked against its seal before anything of it is served, selected or not.
      const value = data && Object.prototype.hasOwnProperty.call(data, alias) ? await verifyPeerValue(data[alias], document.fields[n]!, replyCheck) : null;
      results[i] = (() => {
        if (general && (value === null || value === undefined)) return peerError(general);
        for (const error of errors) {
          if (error === general || !Array.isArray(error.path) || error.path[0] !== alias) continue;
          if (error.path.length === 1) return peerError(error);
          placeError(value, error.path.slice(1), peerError(error));
        }
        return value ?? null;
      })();
    }));
    return results;
  }

  /** A peer's error as this hub's: its code when the caller can act on it, a message naming the peer. */
  function peerError(error: { message?: unknown; extensions?: { code?: unknown } }): HubError {
    const code = typeof error.extensions?.code === 'string' && KEPT_CODES.has(error.extensions.code) ? (error.extensions.code as ErrorCode) : HubErrorCode.CONNECTOR_UNAVAILABLE;
    const message = typeof error.message === 'string' ? error.message.slice(0, 500) : 'an error';
    return new HubError(code, named(message), { hub: settings.hub });
  }

  const rootResolvers: Record<string, unknown> = {};
  for (const [hubField, remoteField] of schema.rootFields) {
    rootResolvers[hubField] = (_: unknown, __: unknown, ctx: RequestContext, info: GraphQLResolveInfo) => {
      const typeName = info.returnType.toString().replace(/[[\]!]/g, '');
      return (ctx.loadersOf(connector) as PeerLoaders).fields.load({ field: { remoteField, node: info.fieldNodes[0]!, typeName }, info, ctx });
    };
  }
  const byResponseKey = (source: unknown, _: unknown, __: unknown, info: GraphQLResolveInfo): unknown =>
    source !== null && typeof source === 'object' ? (source as Record<string, unknown>)[String(info.path.key)] : undefined;
  const typeResolvers: Record<string, Record<string, unknown>> = {};
  for (const [typeName, fields] of schema.objectTypes) {
    typeResolvers[typeName] = Object.fromEntries(fields.map((f) => [f, byResponseKey]));
  }
  for (const typeName of schema.sealedTypes) {
    typeResolvers[typeName]!.seal = (source: unknown, args: unknown, ctx: SealingContext, info: GraphQLResolveInfo) => {
      const seal = byResponseKey(source, args, ctx, info) as { token?: unknown } | null | undefined;
      if (seal instanceof Error) return seal;
      if (seal && typeof seal === 'object' && typeof seal.token === 'string') {
        const sealed = sealedFromPresentation(seal.token);
        if (!sealed) return new UpstreamInvalidResponseError(id, `a ${typeName} seal is not an SD-JWT presentation`);
        // Verified with its record when the reply came (verifyPeerValue): a seal that does not verify never gets here.
        // Cut to this hub's reply when the request ends (masked or unselected fields withheld); the department's signature stays.
        ctx.seals?.pending.push({ path: pathOf(info), sealed });
      }
      return seal;
    };
  }
  for (const typeName of schema.abstractTypes) {
    typeResolvers[typeName] = {
      __resolveType: (value: { __typename?: unknown }) => (typeof value?.__typename === 'string' ? `${settings.prefix}${value.__typename}` : null),
    };
  }

  const connector: Connector<PeerLoaders> = defineConnector<PeerLoaders>({
    id,
    title: `Peer hub ${settings.hub}`,
    createLoaders: (_scope: RequestScope) => ({
      fields: new DataLoader(async (batch) => call(batch), { cache: false, maxBatchSize: 50 }),
    }),
    resolvers: () => ({ Query: rootResolvers, ...typeResolvers }) as never,
    stop: () => upstream.close(),
    async probe() {
      const res = await upstream.request({ method: 'GET', path: '/healthz', operation: 'health' });
      if (res.status !== 200) throw new HubError(HubErrorCode.CONNECTOR_UNAVAILABLE, named(`its health check answered HTTP ${res.status}`));
    },
  });
  return Object.assign(connector, { passedSeals: schema.sealedTypes });
}

/** The response path of the field being resolved (aliases, list indexes). */
function pathOf(info: GraphQLResolveInfo): (string | number)[] {
  const path: (string | number)[] = [];
  for (let p: GraphQLResolveInfo['path'] | undefined = info.path; p; p = p.prev) path.unshift(p.key);
  return path;
}

/** Puts `error` where the peer's reply has null on the way to `path` (the null the error left). */
function placeError(value: unknown, path: readonly (string | number)[], error: GraphQLError): void {
  let cursor = value;
  for (let i = 0; i < path.length; i++) {
    if (cursor === null || typeof cursor !== 'object') return;
    const key = path[i]!;
    const next = (cursor as Record<string | number, unknown>)[key];
    if (next === null || next === undefined || i === path.length - 1) {
      if (next === null || next === undefined) (cursor as Record<string | number, unknown>)[key] = error;
      return;
    }
    cursor = next;
  }
}
