/**
 * The social security connector 社会保险: puts the social security agency's REST/JSON service
 * behind the graph (Person.name, Person.socialInsurance, Enterprise.employerAccount and the
 * SocialInsurance / Contribution types), one batched call per loader batch.
 */
import type DataLoader from 'dataloader';
import {
  BadUserInputError,
  DEFAULT_HTTP_UPSTREAM,
  citizenIdProblem,
  createBatchLoader,
  creditCodeProblem,
  defineConnector,
  defineConnectorModule,
  sdlFile,
  settingSchemas,
  z,
  type Connector,
  type EnterpriseRef,
} from '../../src/sdk';
import { MAX_CONTRIBUTION_MONTHS, createSocialSecurityClient } from './client';
import type { ContributionRecord, EmployerAccountRecord, InsuredRecord } from './schemas';
import { SOCIAL_SECURITY_PROOFS, createSocialSecurityProofs } from './proofs';

export type { ContributionRecord, EmployerAccountRecord, InsuredRecord } from './schemas';
export { SOCIAL_INSURANCE_CONTRIBUTIONS, SOCIAL_SECURITY_PROOFS } from './proofs';

/** The connector id, named in errors, metrics and the audit log. */
export const SOCIAL_SECURITY_CONNECTOR_ID = 'social-security';

/** Name of the primary by-identifier loader (citizen identity number → insured person), for the conformance suite. */
export const SOCIAL_SECURITY_PRIMARY_LOADER = 'insuredById' as const;

/** How to reach the social security department system. */
export interface SocialSecurityConnectorOptions {
  /** Origin (and any gateway path) of the service, without `/api/v1`, e.g. `http://127.0.0.1:8082`. */
  baseUrl: string;
  /** The API key the department issued to the hub, sent as `x-api-key`. */
  apiKey: string;
  /**
   * Per-call timeout in milliseconds.
   * @default 2000
   */
  timeoutMs?: number;
  /**
   * Keep-alive connections to the service.
   * @default 16
   */
  connections?: number;
}

/** Defaults of `SocialSecurityConnectorOptions`. */
export const DEFAULT_SOCIAL_SECURITY_OPTIONS = Object.freeze({
  timeoutMs: DEFAULT_HTTP_UPSTREAM.timeoutMs,
  connections: DEFAULT_HTTP_UPSTREAM.connections,
});

/** The per-request loaders of the connector. */
export interface SocialSecurityLoaders {
  /** Insured person by citizen identity number; null when not insured. One batch POST per batch. */
  insuredById: DataLoader<string, InsuredRecord | null>;
  /** Employer account by unified social credit code; null when the enterprise has none. One batch POST per batch. */
  employerByCode: DataLoader<string, EmployerAccountRecord | null>;
}

/** Default of `contributions(last:)` in the schema, used when a client passes an explicit null. */
const DEFAULT_LAST_MONTHS = 12;

/** Creates the social security connector; options are checked here, failing with a TypeError naming the option. */
export function createSocialSecurityConnector(options: SocialSecurityConnectorOptions): Connector<SocialSecurityLoaders> {
  const settings = checkOptions(options);
  const client = createSocialSecurityClient({ connector: SOCIAL_SECURITY_CONNECTOR_ID, ...settings });

  return defineConnector<SocialSecurityLoaders>({
    id: SOCIAL_SECURITY_CONNECTOR_ID,
    title: 'Social security 社会保险',
    createLoaders: (scope) => ({
      // An identifier that fails its check cannot have a record: it is answered null instead of
      // being sent, where the department would refuse the whole batch for it.
      insuredById: createBatchLoader<string, InsuredRecord>(async (keys) => {
        const ids = validOnly(keys, citizenIdProblem);
        return ids.length === 0 ? new Map() : client.insuredByIds(ids, scope.signal);
      }, scope.cache ? { cache: scope.cache.loader(SOCIAL_SECURITY_PRIMARY_LOADER) } : {}),
      employerByCode: createBatchLoader<string, EmployerAccountRecord>(async (keys) => {
        const codes = validOnly(keys, creditCodeProblem);
        return codes.length === 0 ? new Map() : client.employersByCodes(codes, scope.signal);
      }, scope.cache ? { cache: scope.cache.loader('employerByCode') } : {}),
    }),
    resolvers: (loadersOf) => ({
      Person: {
        name: async (person, _args, ctx) => (await loadersOf(ctx).insuredById.load(person.idNumber))?.name ?? null,
        socialInsurance: (person, _args, ctx) => loadersOf(ctx).insuredById.load(person.idNumber),
      },
      Enterprise: {
        employerAccount: (enterprise, _args, ctx) => loadersOf(ctx).employerByCode.load(enterprise.creditCode),
      },
      SocialInsurance: {
        employer: (insurance) => enterpriseRef((insurance as InsuredRecord).employerCreditCode),
        contributions: (insurance, args) => lastMonths((insurance as InsuredRecord).contributions, checkLast(args.last)),
      },
      Contribution: {
        employer: (contribution) => enterpriseRef((contribution as ContributionRecord).employerCreditCode),
      },
    }),
    seals: {
      SocialInsurance: {
        recordType: 'InsuredPerson',
        load: async (insurance: InsuredRecord) => insurance,
        // Only keys the seal's pseudonymous `sub`: SocialInsurance has no idNumber field to disclose it under.
        id: (r: InsuredRecord) => r.idNumber,
        fields: (r: InsuredRecord) => ({ scheme: r.scheme, status: r.status, insuredSince: r.insuredSince, employer: enterpriseRef(r.employerCreditCode) }),
      },
      EmployerAccount: {
        recordType: 'EmployerAccount',
        load: async (account: EmployerAccountRecord) => account,
        // Only keys the seal's pseudonymous `sub` (accountNumber is NOT_SHARED and not sealed).
        id: (r: EmployerAccountRecord) => r.creditCode,
        fields: (r: EmployerAccountRecord) => ({ status: r.status, openedAt: r.openedAt, employeeCount: r.employeeCount, arrears: r.arrears }),
      },
    },
    // A proof asks the agency itself, one call of its own for the whole history: never a loader or the cache.
    proofs: createSocialSecurityProofs((idNumber, signal) => client.insuredWithHistory(idNumber, signal)),
    probe: () => client.health(),
    stop: () => client.close(),
  });
}

function checkOptions(options: SocialSecurityConnectorOptions): Required<SocialSecurityConnectorOptions> {
  if (typeof options !== 'object' || options === null) throw new TypeError('social-security connector: options must be an object');
  const { baseUrl, apiKey } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_SOCIAL_SECURITY_OPTIONS.timeoutMs;
  const connections = options.connections ?? DEFAULT_SOCIAL_SECURITY_OPTIONS.connections;
  let url: URL | undefined;
  try {
    url = typeof baseUrl === 'string' ? new URL(baseUrl) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new TypeError(`social-security connector: option "baseUrl" must be an absolute http(s) URL, but got: ${JSON.stringify(baseUrl)}`);
  }
  // The key itself is never echoed.
  if (typeof apiKey !== 'string' || apiKey.length === 0) throw new TypeError('social-security connector: option "apiKey" must be a non-empty string');
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError(`social-security connector: option "timeoutMs" must be a positive integer (milliseconds), but got: ${String(timeoutMs)}`);
  }
  if (!Number.isInteger(connections) || connections <= 0) {
    throw new TypeError(`social-security connector: option "connections" must be a positive integer, but got: ${String(connections)}`);
  }
  return { baseUrl, apiKey, timeoutMs, connections };
}

/** The keys that pass their identifier check, without copying when all do (the usual case). */
function validOnly(keys: readonly string[], problemOf: (value: string) => string | undefined): readonly string[] {
  for (let i = 0; i < keys.length; i++) {
    if (problemOf(keys[i]!) !== undefined) return keys.filter((key) => problemOf(key) === undefined);
  }
  return keys;
}

function enterpriseRef(creditCode: string | null): EnterpriseRef | null {
  return creditCode === null ? null : { creditCode };
}

/** Validates `contributions(last:)`: 1 to 120 months; an explicit null means the schema's default. */
function checkLast(last: number | null | undefined): number {
  if (last === null || last === undefined) return DEFAULT_LAST_MONTHS;
  if (!Number.isInteger(last) || last < 1 || last > MAX_CONTRIBUTION_MONTHS) {
    throw new BadUserInputError('last', `must be an integer from 1 to ${MAX_CONTRIBUTION_MONTHS}, but got: ${String(last)}`);
  }
  return last;
}

/** The contributions of the newest `months` periods; the list is newest first, so this is a prefix. */
function lastMonths(list: ContributionRecord[], months: number): ContributionRecord[] {
  let periods = 0;
  let previous: string | undefined;
  for (let end = 0; end < list.length; end++) {
    const period = list[end]!.period;
    if (period !== previous) {
      if (++periods > months) return list.slice(0, end);
      previous = period;
    }
  }
  return list;
}

/** The connector module the hub discovers: settings `connectors.social-security.*`. */
export const connectorModule = defineConnectorModule({
  id: SOCIAL_SECURITY_CONNECTOR_ID,
  title: 'Social security 人力资源和社会保障',
  settings: z.strictObject({
    baseUrl: settingSchemas.httpUrl(),
    apiKey: settingSchemas.secret(),
    timeoutMs: settingSchemas.timeoutMs().optional(),
    connections: settingSchemas.connections().optional(),
  }),
  legacyEnvironment: { DATARUN_SOCIAL_SECURITY_URL: 'baseUrl', DATARUN_SOCIAL_SECURITY_API_KEY: 'apiKey' },
  typeDefs: sdlFile(`${__dirname}/schema.graphql`),
  create: (settings, environment) => createSocialSecurityConnector({ ...settings, timeoutMs: settings.timeoutMs ?? environment.defaultTimeoutMs }),
  // Contributions are booked monthly: five minutes is fresh enough.
  cacheTtlSeconds: 300,
  proofs: SOCIAL_SECURITY_PROOFS,
});
