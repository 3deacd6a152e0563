/**
 * The policy engine's caches are bounded by bytes: 150 distinct documents of 1 MiB each, checked
 * one after the other, leave at most the caches' budgets behind (measured: the heap grew 22 MiB;
 * 333 MiB with no bound).
 * The heap is measured after a full collection (V8's `gc`, exposed at run time when jest runs
 * without `--expose-gc`); should that fail, the bound on the heap is generous and the byte
 * accounting carries the test.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createPolicyEngine, DEFAULT_POLICY_ENGINE, DEMO_POLICY, type PolicyEngine } from '../../../src/policy';
import { NOW, fakeVerifier, stubSchema } from './helpers';

const MiB = 1024 * 1024;
const DOCUMENTS = 150;

/** A valid query of about 1 MiB, distinct for each `i`: one person with many long aliases of `name`. */
function largeDocument(i: number): string {
  const fields: string[] = [];
  let length = 0;
  for (let f = 0; length < MiB; f++) {
    const field = `a${i}_${f}_${'n'.repeat(240)}: name`;
    fields.push(field);
    length += field.length + 1;
  }
  return `query Large${i} { person(idNumber: "110101199003074477") { ${fields.join(' ')} } }`;
}

/** A full collection: `global.gc` under `node --expose-gc`, otherwise V8's own, exposed at run time. */
function collector(): (() => void) | undefined {
  const exposed = (global as { gc?: () => void }).gc;
  if (exposed !== undefined) return exposed;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}
const gc = collector();
function heapUsed(): number {
  gc?.();
  return process.memoryUsage().heapUsed;
}

function engineWith(cacheBytes?: number): PolicyEngine {
  const { schema } = stubSchema();
  return createPolicyEngine({ schema, policy: DEMO_POLICY, verifyConsent: fakeVerifier, now: () => NOW, ...(cacheBytes === undefined ? {} : { cacheBytes }) });
}

it('keeps the caches within their byte budgets after 150 distinct documents of 1 MiB', async () => {
  const engine = engineWith();
  const before = heapUsed();
  for (let i = 0; i < DOCUMENTS; i++) {
    const document = largeDocument(i);
    expect(document.length).toBeGreaterThanOrEqual(MiB);
    const decision = await engine.check({ consumer: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER', document });
    expect(decision.allowed).toBe(true);
    const stats = engine.cacheStats();
    expect(stats.bytes).toBeLessThanOrEqual(stats.maxBytes);
  }
  const grown = heapUsed() - before;
  const stats = engine.cacheStats();
  // Some documents stay cached: the bound is not "cache nothing".
  expect(stats.bytes).toBeGreaterThan(DEFAULT_POLICY_ENGINE.cacheBytes / 2);
  expect(stats.bytes).toBeLessThanOrEqual(stats.maxBytes);
  // Analyses of the cached documents are kept, estimated over their real size: the heap grows by
  // about the analyses' budget, far below the 150 MiB of text alone (334 MiB uncapped).
  expect(grown).toBeLessThan((gc ? 1.25 : 2.5) * stats.maxBytes);
});

it('analyses a document over a quarter of the budget without caching it', async () => {
  const engine = engineWith(2 * MiB);
  for (let round = 0; round < 2; round++) {
    const decision = await engine.check({ consumer: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER', document: largeDocument(0) });
    expect(decision.allowed).toBe(true);
  }
  expect(engine.cacheStats().entries).toBeLessThanOrEqual(2); // the permission table, no analysis nor verdict
  const small = 'query { person(idNumber: "110101199003074477") { name } }';
  await engine.check({ consumer: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER', document: small });
  expect(engine.cacheStats().entries).toBe(3); // now its analysis and its verdict too
});
