/** Runs the conformance suite against every connector, each over its own sandbox. */
import { createMarketRegulationConnector } from '../../connectors/market-regulation';
import { createRealEstateConnector } from '../../connectors/real-estate';
import { createSocialSecurityConnector } from '../../connectors/social-security';
import { createTaxConnector } from '../../connectors/tax';
import { startMarketRegulationSandbox } from '../../departments/market-regulation';
import { startRealEstateSandbox } from '../../departments/real-estate';
import { generateSeed } from '../../departments/seed/generate';
import { DEFAULT_SOCIAL_SECURITY_API_KEY, startSocialSecuritySandbox } from '../../departments/social-security';
import { startTaxSandbox } from '../../departments/tax';
import { describeConnectorConformance, type ConformanceSubject } from './suite';

const data = generateSeed({ seed: 1, size: 200 });
// Valid identifiers that no department of seed 1 knows.
const stranger = generateSeed({ seed: 999, size: 10 });

const subjects: ConformanceSubject[] = [
  {
    id: 'real-estate',
    startSandbox: (d) => startRealEstateSandbox({ data: d }),
    createConnector: (sandbox, timeoutMs) => createRealEstateConnector({ url: sandbox.url, timeoutMs }),
    primaryLoader: (loaders) => loaders.propertyByUnit,
    knownKeys: (d) => d.properties.map((p) => p.unitNumber),
    unknownKey: () => stranger.properties[0]!.unitNumber,
    keyOf: (record) => record.unitNumber,
  },
  {
    id: 'social-security',
    startSandbox: (d) => startSocialSecuritySandbox({ data: d }),
    createConnector: (sandbox, timeoutMs) => createSocialSecurityConnector({ baseUrl: sandbox.url, apiKey: DEFAULT_SOCIAL_SECURITY_API_KEY, timeoutMs }),
    primaryLoader: (loaders) => loaders.insuredById,
    knownKeys: (d) => d.insured.map((i) => i.idNumber),
    unknownKey: () => stranger.persons[0]!.idNumber,
    keyOf: (record) => record.idNumber,
  },
  {
    id: 'tax',
    startSandbox: (d) => startTaxSandbox({ data: d }),
    createConnector: (sandbox, timeoutMs) => createTaxConnector({ url: sandbox.url, timeoutMs }),
    primaryLoader: (loaders) => loaders.taxpayerById,
    knownKeys: (d) => d.taxpayers.map((t) => t.taxpayerId),
    unknownKey: () => stranger.persons[0]!.idNumber,
    keyOf: (record) => record.taxpayerId,
  },
  {
    id: 'market-regulation',
    startSandbox: (d) => startMarketRegulationSandbox({ data: d }),
    createConnector: (sandbox, timeoutMs) => createMarketRegulationConnector({ baseUrl: sandbox.url, timeoutMs }),
    primaryLoader: (loaders) => loaders.enterpriseByCode,
    knownKeys: (d) => d.enterprises.map((e) => e.creditCode),
    unknownKey: () => stranger.enterprises[0]!.creditCode,
    keyOf: (record) => record.creditCode,
  },
];

for (const subject of subjects) describeConnectorConformance(subject, data);
