import { makeExecutableSchema } from '@graphql-tools/schema';
import { loadTypeDefs } from '../../../src/gateway/schema';
import { createPolicyEngine, DEMO_POLICY, PolicyConfigError, type PolicyInput } from '../../../src/policy';

const schema = makeExecutableSchema({ typeDefs: loadTypeDefs() });

/** The demo policy with the civil-affairs consumer's query limits set. */
function withLimits(limits: unknown): PolicyInput {
  const policy = structuredClone(DEMO_POLICY) as PolicyInput;
  (policy.consumers.find((c) => c.id === 'civil-affairs') as { limits?: unknown }).limits = limits;
  return policy;
}

function problemsOf(policy: unknown): readonly string[] {
  try {
    createPolicyEngine({ schema, policy });
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyConfigError);
    return (error as PolicyConfigError).problems;
  }
  throw new Error('expected the policy to be refused');
}

describe("a consumer's query limits", () => {
  it('are read from the policy, each key optional', () => {
    const engine = createPolicyEngine({ schema, policy: withLimits({ maxDepth: 15, maxEstimatedResults: 200_000 }) });
    expect(engine.limitsOf('civil-affairs')).toEqual({ maxDepth: 15, maxEstimatedResults: 200_000 });
    expect(Object.isFrozen(engine.limitsOf('civil-affairs'))).toBe(true);
  });

  it('are empty for a consumer without them and for an unknown consumer', () => {
    const engine = createPolicyEngine({ schema, policy: DEMO_POLICY });
    expect(engine.limitsOf('civil-affairs')).toEqual({});
    expect(engine.limitsOf('nobody')).toEqual({});
  });

  it('take all six limits', () => {
    const all = { maxDocumentBytes: 131_072, maxTokens: 10_000, maxDepth: 12, maxAliases: 60, maxRootFields: 40, maxEstimatedResults: 100_000 };
    expect(createPolicyEngine({ schema, policy: withLimits(all) }).limitsOf('civil-affairs')).toEqual(all);
  });

  it.each([
    ['zero', { maxDepth: 0 }, /^consumer "civil-affairs" limits\.maxDepth: /],
    ['a negative value', { maxAliases: -3 }, /^consumer "civil-affairs" limits\.maxAliases: /],
    ['a fraction', { maxTokens: 1.5 }, /^consumer "civil-affairs" limits\.maxTokens: /],
    ['a string', { maxRootFields: '20' }, /^consumer "civil-affairs" limits\.maxRootFields: /],
    ['an unknown key', { maxCost: 10 }, /^consumer "civil-affairs" limits: .*maxCost/],
  ])('refuse %s, naming the consumer and the key', (_, limits, message) => {
    const problems = problemsOf(withLimits(limits));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });
});
