import type { GraphQLSchema } from 'graphql';
import { createPolicyEngine, createPolicyResolvers, DEMO_POLICY, readPolicyFile, type PolicyEngine } from '../policy';
import {
  createConsentVerifier,
  createKeyStore,
  createMemoryReplayGuard,
  createReceiptSigner,
  createRequestVerifier,
  type KeyStore,
  type ReceiptSigner,
  type ReplayGuard,
  type RequestVerifier,
} from '../seal';
import { createMarketRegulationConnector } from '../../connectors/market-regulation';
import { createRealEstateConnector } from '../../connectors/real-estate';
import { createSocialSecurityConnector } from '../../connectors/social-security';
import { createTaxConnector } from '../../connectors/tax';
import type { Connector } from '../sdk';
import type { ConnectorsConfig, HubConfig } from './config';
import type { AuditLog, AuditLogEvent } from '../audit';
import { auditSubjectSecret, createAuditResolvers, openHubAuditLog } from './audit';
import type { RequestContext } from './request-context';
import { buildHubSchema } from './schema';
import { assertSealsCovered, createSealResolvers, createSealService, type SealService } from './seals';

/** The four department connectors, by id. */
export const CONNECTOR_IDS = ['real-estate', 'social-security', 'tax', 'market-regulation'] as const;
/** One of the four department connector ids. */
export type ConnectorId = (typeof CONNECTOR_IDS)[number];

/** Where every department system is, once configuration and embedded sandboxes are combined. */
export type DepartmentEndpoints = Required<{ [K in keyof ConnectorsConfig]-?: NonNullable<ConnectorsConfig[K]> }>;

/** The connectors of the four departments, each with the configured timeout unless it sets its own. */
export function createConnectors(endpoints: DepartmentEndpoints, defaultTimeoutMs: number): Connector[] {
  const re = endpoints['real-estate'];
  const ss = endpoints['social-security'];
  const mr = endpoints['market-regulation'];
  return [
    createRealEstateConnector({ url: re.url, timeoutMs: re.timeoutMs ?? defaultTimeoutMs, ...(re.poolSize ? { poolSize: re.poolSize } : {}) }),
    createSocialSecurityConnector({ baseUrl: ss.baseUrl, apiKey: ss.apiKey, timeoutMs: ss.timeoutMs ?? defaultTimeoutMs, ...(ss.connections ? { connections: ss.connections } : {}) }),
    createTaxConnector({ url: endpoints.tax.url, timeoutMs: endpoints.tax.timeoutMs ?? defaultTimeoutMs, ...(endpoints.tax.connections ? { connections: endpoints.tax.connections } : {}) }),
    createMarketRegulationConnector({ baseUrl: mr.baseUrl, timeoutMs: mr.timeoutMs ?? defaultTimeoutMs, ...(mr.connections ? { connections: mr.connections } : {}) }),
  ] as Connector[];
}

/** The gateway: connectors started, one executable schema over them, and the trust and policy machinery. */
export interface Gateway {
  readonly schema: GraphQLSchema;
  readonly connectors: readonly Connector[];
  /** `signed`: authentication, policy, seals and receipts; `open`: the unauthenticated sandbox mode. */
  readonly security: 'signed' | 'open';
  readonly keyStore: KeyStore;
  readonly seals: SealService;
  readonly policy: PolicyEngine;
  readonly verifier: RequestVerifier;
  readonly receipts: ReceiptSigner;
  /** The durable access log; undefined only when audit is switched off (benchmarks). */
  readonly audit: AuditLog | undefined;
  stop(): Promise<void>;
}

/** What the gateway needs from the configuration. */
export type GatewayConfig = Pick<HubConfig, 'connectorTimeoutMs'> &
  Partial<Pick<HubConfig, 'security' | 'policy'>> & {
    keys: { dir: string };
    audit: Pick<HubConfig['audit'], 'enabled' | 'dir' | 'instanceId'> & Partial<HubConfig['audit']>;
  };

/**
 * Builds the gateway: keys (missing ones generated), connectors, the schema with the seal and
 * catalogue resolvers, the policy engine over it (which refuses an unclassified field), then
 * starts the connectors; stops the ones already started if one fails.
 */
export async function createGateway(
  config: GatewayConfig,
  endpoints: DepartmentEndpoints,
  options: { replayGuard?: ReplayGuard; onAuditEvent?: (event: AuditLogEvent) => void } = {},
): Promise<Gateway> {
  const keyStore = await createKeyStore(config.keys.dir);
  const connectors = createConnectors(endpoints, config.connectorTimeoutMs);
  const seals = createSealService(keyStore);
  let policy: PolicyEngine | undefined;
  let audit: AuditLog | undefined;
  const schema = buildHubSchema(connectors, undefined, [
    createSealResolvers(connectors, seals),
    createPolicyResolvers(() => policy!, { consumerOf: (ctx) => (ctx as RequestContext).caller?.consumer ?? '' }),
    createAuditResolvers(() => audit),
  ]);
  assertSealsCovered(schema, connectors);
  policy = createPolicyEngine({
    schema,
    policy: config.policy?.file ? readPolicyFile(config.policy.file) : DEMO_POLICY,
    verifyConsent: createConsentVerifier({ keyStore }),
  });
  const verifier = createRequestVerifier({
    keyStore,
    replayGuard: options.replayGuard ?? createMemoryReplayGuard(),
    ...(config.security ? { clockSkewSec: config.security.clockSkewSec } : {}),
  });
  const receipts = createReceiptSigner({ keyStore });
  if (config.audit.enabled) {
    audit = await openHubAuditLog({
      dir: config.audit.dir,
      instanceId: config.audit.instanceId,
      keyStore,
      policy,
      confidentialPurposes: policyConfidentialPurposes(policy),
      subjectKeySecret: auditSubjectSecret(config.keys.dir, process.env.DATARUN_AUDIT_SUBJECT_SECRET),
      ...(config.audit.checkpointEveryRecords ? { checkpointEveryRecords: config.audit.checkpointEveryRecords } : {}),
      ...(config.audit.checkpointEveryMs ? { checkpointEveryMs: config.audit.checkpointEveryMs } : {}),
      ...(config.audit.retentionDays ? { retentionDays: config.audit.retentionDays } : {}),
      ...(options.onAuditEvent ? { onEvent: options.onAuditEvent } : {}),
    });
  }
  const started: Connector[] = [];
  try {
    for (const c of connectors) {
      await c.start();
      started.push(c);
    }
  } catch (error) {
    await Promise.allSettled(started.map((c) => c.stop()));
    await audit?.close();
    throw error;
  }
  return {
    schema,
    connectors,
    security: config.security?.mode ?? 'signed',
    keyStore,
    seals,
    policy,
    verifier,
    receipts,
    audit,
    async stop() {
      await Promise.allSettled(connectors.map((c) => c.stop()));
      await audit?.close();
    },
  };
}

function policyConfidentialPurposes(policy: PolicyEngine): string[] {
  return policy.purposes().filter((p) => p.confidential).map((p) => p.code);
}
