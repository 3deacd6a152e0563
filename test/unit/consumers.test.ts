import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createGateway, type DepartmentEndpoints } from '../../src/gateway';
import { DEMO_POLICY, type PolicyInput } from '../../src/policy';

// Never contacted: the start fails before any connector starts.
const ENDPOINTS: DepartmentEndpoints = {
  'real-estate': { url: 'postgres://127.0.0.1:1/none' },
  'social-security': { baseUrl: 'http://127.0.0.1:1', apiKey: 'k' },
  tax: { url: 'http://127.0.0.1:1/tax' },
  'market-regulation': { baseUrl: 'http://127.0.0.1:1' },
  'housing-fund': { url: 'http://127.0.0.1:1/graphql' },
};

describe('the consumer registry', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'datarun-consumers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function start(policy: PolicyInput) {
    const file = path.join(dir, `policy-${Math.random()}.json`);
    writeFileSync(file, JSON.stringify(policy));
    return createGateway({ connectorTimeoutMs: 1000, keys: { dir: path.join(dir, 'keys') }, audit: { enabled: false, benchmarkOnlyDisable: true, dir: path.join(dir, 'audit'), instanceId: 't' }, policy: { file } }, ENDPOINTS, { sandboxes: Object.keys(ENDPOINTS) });
  }

  it('refuses to start when the policy grants a consumer the trust list does not know', async () => {
    const policy = structuredClone(DEMO_POLICY) as PolicyInput;
    policy.consumers.push({ id: 'ghost-bureau', name: 'ghost', roles: ['consumer'], grants: [{ fields: ['Query.person'], purposes: ['PROPERTY_TRANSFER'] }] });
    await expect(start(policy)).rejects.toThrow(/Consumers registry mismatch:\n {2}- consumer "ghost-bureau" of the sharing policy is not a consumer of the trust list/);
  });

  it('refuses to start when the two registries give a consumer different roles', async () => {
    const policy = structuredClone(DEMO_POLICY) as PolicyInput;
    policy.consumers.find((c) => c.id === 'tax-bureau')!.roles = ['consumer', 'consent-issuer'];
    await expect(start(policy)).rejects.toThrow('consumer "tax-bureau" has roles [consent-issuer,consumer] in the sharing policy but [consumer] in the trust list');
  });
});
