/**
 * Runs the conformance kit (`datarun/testing`, src/testing) against every connector of this
 * repository, each over its own sandbox. Faults come from the sandbox's own control, or through
 * the kit's TCP fault proxy in front of it (real estate: its PostgreSQL wire; tax: its SOAP
 * service), so that the proxy is exercised on two protocols it knows nothing about. Each
 * connector is given as its module, so that the module checks run too, and is built from its
 * settings as the hub builds it.
 */
import { connectorModule as housingFund } from '../../connectors/housing-fund';
import type { GraphqlLoaders } from '../../src/sdk';
import { connectorModule as marketRegulation, type MarketRegulationLoaders } from '../../connectors/market-regulation';
import { connectorModule as realEstate, type RealEstateLoaders } from '../../connectors/real-estate';
import { connectorModule as socialSecurity, type SocialSecurityLoaders } from '../../connectors/social-security';
import { connectorModule as tax, type TaxLoaders } from '../../connectors/tax';
import { startHousingFundSandbox } from '../../departments/housing-fund';
import { startMarketRegulationSandbox } from '../../departments/market-regulation';
import { startRealEstateSandbox } from '../../departments/real-estate';
import type { FaultSettings, Sandbox } from '../../departments/sandbox-kit';
import { generateSeed } from '../../departments/seed/generate';
import type { SeedData } from '../../departments/seed/model';
import { DEFAULT_SOCIAL_SECURITY_API_KEY, startSocialSecuritySandbox } from '../../departments/social-security';
import { startTaxSandbox } from '../../departments/tax';
import { describeConnectorConformance, startTcpFaultProxy, type ConformanceUpstream, type FaultMode, type UpstreamFault } from '../../src/testing';

const data = generateSeed({ seed: 1, size: 200 });
// Valid identifiers that no department of seed 1 knows (they fill the batches of 100 keys where the seed has fewer).
const stranger = generateSeed({ seed: 999, size: 800 });
const hundred = (known: string[], unknown: string[]) => [...known, ...unknown].slice(0, 100);
const personalData = (d: SeedData) => [...d.persons.flatMap((p) => [p.idNumber, p.name, p.address]), ...d.enterprises.flatMap((e) => [e.creditCode, e.name]), ...d.properties.map((p) => p.unitNumber)];

/** A sandbox as the kit's upstream, its URL pointing at the proxy when some faults go through one. */
interface SandboxUpstream extends ConformanceUpstream {
  readonly url: string;
}

/** The sandbox control's settings for a fault of the kit. */
function sandboxFault(fault: UpstreamFault): Partial<FaultSettings> {
  switch (fault.mode) {
    case 'none':
      return { mode: 'none', errorRate: 0 };
    case 'error':
      return { errorRate: 1 };
    case 'slow':
      return { mode: 'slow', slowMs: fault.delayMs ?? 30_000 };
    case 'down':
    case 'malformed':
      return { mode: fault.mode };
    case 'reset':
      throw new TypeError('the sandboxes cannot cut a reply in the middle; route "reset" through the proxy');
  }
}

/**
 * Adapts a sandbox to the kit: calls are the sandbox's own counters (one per request or SQL
 * statement); the faults listed in `viaProxy` are injected by a TCP fault proxy in front of it,
 * the others by the sandbox's control.
 */
async function sandboxUpstream(sandbox: Sandbox, viaProxy: readonly FaultMode[] = [], malformedBytes?: string): Promise<SandboxUpstream> {
  const target = new URL(sandbox.url);
  const proxy = viaProxy.length > 0 ? await startTcpFaultProxy({ target: { host: target.hostname.replace(/^\[|\]$/g, ''), port: Number(target.port) }, ...(malformedBytes ? { malformedBytes } : {}) }) : undefined;
  return {
    url: proxy ? proxy.rewriteUrl(sandbox.url) : sandbox.url,
    faults: ['none', 'down', 'slow', 'error', 'malformed', ...(viaProxy.includes('reset') ? (['reset'] as const) : [])],
    setFault(fault) {
      proxy?.setFault({ mode: 'none' });
      sandbox.control.reset();
      if (proxy && viaProxy.includes(fault.mode)) proxy.setFault(fault);
      else sandbox.control.setFaults(sandboxFault(fault));
    },
    calls: () => sandbox.control.totalCalls(),
    reset() {
      proxy?.reset();
      sandbox.control.reset();
    },
    async close() {
      await proxy?.close();
      await sandbox.close();
    },
  };
}

/** What the tax connector gets from the proxy in `malformed` mode: a well-framed HTTP reply whose body is no SOAP envelope. */
const MALFORMED_SOAP = ['HTTP/1.1 200 OK', 'content-type: text/xml; charset=utf-8', 'content-length: 24', 'connection: close', '', '<soap:Envelope><cut off '].join('\r\n');

const common = { personalData: personalData(data) };

describeConnectorConformance({
  ...common,
  id: 'real-estate',
  upstream: async () => sandboxUpstream(await startRealEstateSandbox({ data }), ['down', 'slow', 'reset']),
  module: realEstate,
  settings: (upstream, timeoutMs) => ({ url: upstream.url, timeoutMs }),
  primaryLoader: (loaders: RealEstateLoaders) => loaders.propertyByUnit,
  knownKeys: data.properties.map((p) => p.unitNumber),
  unknownKey: stranger.properties[0]!.unitNumber,
  batchKeys: hundred(data.properties.map((p) => p.unitNumber), stranger.properties.map((p) => p.unitNumber)),
  keyOf: (record) => record.unitNumber,
});

describeConnectorConformance({
  ...common,
  id: 'social-security',
  upstream: async () => sandboxUpstream(await startSocialSecuritySandbox({ data })),
  module: socialSecurity,
  settings: (upstream, timeoutMs) => ({ baseUrl: upstream.url, apiKey: DEFAULT_SOCIAL_SECURITY_API_KEY, timeoutMs }),
  primaryLoader: (loaders: SocialSecurityLoaders) => loaders.insuredById,
  knownKeys: data.insured.map((i) => i.idNumber),
  unknownKey: stranger.persons[0]!.idNumber,
  keyOf: (record) => record.idNumber,
});

describeConnectorConformance({
  ...common,
  id: 'tax',
  upstream: async () => sandboxUpstream(await startTaxSandbox({ data }), ['down', 'malformed', 'reset'], MALFORMED_SOAP),
  module: tax,
  settings: (upstream, timeoutMs) => ({ url: upstream.url, timeoutMs }),
  primaryLoader: (loaders: TaxLoaders) => loaders.taxpayerById,
  knownKeys: data.taxpayers.map((t) => t.taxpayerId),
  unknownKey: stranger.persons[0]!.idNumber,
  keyOf: (record) => record.taxpayerId,
});

describeConnectorConformance({
  ...common,
  id: 'market-regulation',
  upstream: async () => sandboxUpstream(await startMarketRegulationSandbox({ data })),
  module: marketRegulation,
  settings: (upstream, timeoutMs) => ({ baseUrl: upstream.url, timeoutMs }),
  primaryLoader: (loaders: MarketRegulationLoaders) => loaders.enterpriseByCode,
  knownKeys: data.enterprises.map((e) => e.creditCode),
  unknownKey: stranger.enterprises[0]!.creditCode,
  batchKeys: hundred(data.enterprises.map((e) => e.creditCode), stranger.enterprises.map((e) => e.creditCode)),
  keyOf: (record) => record.creditCode,
});

// The fifth department: the generic GraphQL connector over the fund centre's Apollo Federation 2 subgraph.
describeConnectorConformance({
  ...common,
  id: 'housing-fund',
  upstream: async () => sandboxUpstream(await startHousingFundSandbox({ data })),
  module: housingFund,
  settings: (upstream, timeoutMs) => ({ url: upstream.url, timeoutMs }),
  primaryLoader: (loaders: GraphqlLoaders) => loaders.recordLoader('FundAccount'),
  knownKeys: data.fundAccounts.map((a) => a.accountNumber),
  // Sixteen digits like every account number, and not one of the seed's.
  unknownKey: '9999999999999999',
  batchKeys: hundred(data.fundAccounts.map((a) => a.accountNumber), Array.from({ length: 100 }, (_, i) => `99999999999${String(i).padStart(5, '0')}`)),
  keyOf: (record) => record.accountNumber,
});
