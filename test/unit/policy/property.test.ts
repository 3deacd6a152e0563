/**
 * Property-based: random grant sets × random operations (fragments, aliases, inline fragments on
 * Party, @include/@skip on variables, variables as subjects) over the real schema with counting stub
 * resolvers, run as the hub will: check, and execute only when allowed.
 */
import * as fc from 'fast-check';
import { getNamedType, isObjectType, isUnionType, parse, validate, type GraphQLObjectType } from 'graphql';
import { createPolicyEngine, DEMO_POLICY, type PolicyInput } from '../../../src/policy';
import { NOW, RAW, fakeVerifier, runAsHub, sdlClassification, stubSchema, type Sdl } from './helpers';

const { schema, calls } = stubSchema();
const sdl = sdlClassification(schema);
const PURPOSES = DEMO_POLICY.purposes.map((p) => p.code);
const REQUIRES_CONSENT = new Set(DEMO_POLICY.purposes.filter((p) => p.requiresConsent).map((p) => p.code));
const KINDS = ['ID_NUMBER', 'NAME', 'ADDRESS', 'PHONE'];
const ROOTS = ['person', 'people', 'enterprise', 'enterprises', 'property', 'properties'] as const;
const SUBJECT_ARG: Record<(typeof ROOTS)[number], [string, string, string]> = {
  person: ['idNumber', 'ID!', 'P'],
  people: ['idNumbers', '[ID!]!', 'P'],
  enterprise: ['creditCode', 'ID!', 'E'],
  enterprises: ['creditCodes', '[ID!]!', 'E'],
  property: ['unitNumber', 'ID!', 'U'],
  properties: ['unitNumbers', '[ID!]!', 'U'],
};
const DEPARTMENT_TYPES = Object.values(schema.getTypeMap()).filter(
  (t): t is GraphQLObjectType => isObjectType(t) && !t.name.startsWith('__') && [...Object.keys(t.getFields())].every((f) => sdl.get(`${t.name}.${f}`)?.department !== 'catalog'),
);

type Gen = fc.GeneratorValue;
const chance = (g: Gen, oneIn: number): boolean => g(fc.nat, { max: oneIn - 1 }) === 0;
const pick = <T,>(g: Gen, items: readonly T[]): T => items[g(fc.nat, { max: items.length - 1 })]!;

/** A random operation over the schema, with the coordinates it reads and its person subjects, tracked as it is built. */
class Operation {
  readonly coordinates = new Set<string>();
  readonly persons: { id: string; at: string }[] = [];
  readonly variables: Record<string, unknown> = {};
  private readonly definitions: string[] = [];
  private readonly fragments: string[] = [];
  private readonly rootKeys = new Set<string>();
  private n = 0;

  constructor(private readonly g: Gen) {}

  private fresh(prefix: string): string {
    return `${prefix}${this.n++}`;
  }

  private directive(): string {
    if (!chance(this.g, 4)) return '';
    const name = this.fresh('b');
    this.definitions.push(`$${name}: Boolean!`);
    this.variables[name] = this.g(fc.boolean);
    return this.g(fc.boolean) ? ` @include(if: $${name})` : ` @skip(if: $${name})`;
  }

  private alias(): string {
    return chance(this.g, 3) ? `${this.fresh('a')}: ` : '';
  }

  private composite(typeName: string, depth: number): string {
    const type = schema.getType(typeName)!;
    if (depth >= 3) return this.alias() + '__typename';
    if (isUnionType(type)) {
      const parts: string[] = [];
      if (chance(this.g, 2)) parts.push(`${this.alias()}__typename`);
      for (const member of type.getTypes()) {
        if (!chance(this.g, 2)) continue;
        const body = this.object(member, depth);
        const how = this.g(fc.nat, { max: 2 });
        if (how === 0) parts.push(`... on ${member.name}${this.directive()} { ${body} }`);
        else {
          const name = this.fresh('F');
          this.fragments.push(how === 1 ? `fragment ${name} on ${member.name} { ${body} }` : `fragment ${name} on ${type.name} { ... on ${member.name} { ${body} } }`);
          parts.push(`...${name}${this.directive()}`);
        }
      }
      return parts.length > 0 ? parts.join(' ') : '__typename';
    }
    return this.object(type as GraphQLObjectType, depth);
  }

  private object(type: GraphQLObjectType, depth: number): string {
    const fields = Object.values(type.getFields()).filter((f) => !['catalog', 'seal'].includes(sdl.get(`${type.name}.${f.name}`)!.department));
    // fc.gen compares arguments deeply, so it is given indexes rather than schema objects.
    const chosen = this.g(fc.subarray, fields.map((_, i) => i), { minLength: 1, maxLength: 3 }).map((i) => fields[i]!);
    const parts = chosen.map((f) => {
      this.coordinates.add(`${type.name}.${f.name}`);
      const named = getNamedType(f.type);
      const sub = isObjectType(named) || isUnionType(named) ? ` { ${this.composite(named.name, depth + 1)} }` : '';
      return `${this.alias()}${f.name}${this.directive()}${sub}`;
    });
    // Sometimes hide part of the selection behind an inline fragment, a named fragment or a directive-only fragment.
    if (parts.length > 1 && chance(this.g, 3)) {
      const hidden = parts.pop()!;
      const how = this.g(fc.nat, { max: 2 });
      if (how === 0) parts.push(`... on ${type.name} { ${hidden} }`);
      else if (how === 1) parts.push(`...${this.directive() || ' @include(if: true)'} { ${hidden} }`);
      else {
        const name = this.fresh('F');
        this.fragments.push(`fragment ${name} on ${type.name} { ${hidden} }`);
        parts.push(`...${name}`);
      }
    }
    return parts.join(' ');
  }

  private root(field: (typeof ROOTS)[number]): string {
    const [arg, argType, prefix] = SUBJECT_ARG[field];
    const key = chance(this.g, 2) || this.rootKeys.has(field) ? this.fresh('r') : field;
    this.rootKeys.add(key);
    const ids = (count: number) => Array.from({ length: count }, () => `${prefix}${this.g(fc.nat, { max: 3 })}`);
    const list = argType.startsWith('[');
    let value: string;
    let given: string[];
    if (chance(this.g, 2)) {
      const name = this.fresh('v');
      this.definitions.push(`$${name}: ${argType}`);
      given = ids(list ? this.g(fc.integer, { min: 1, max: 3 }) : 1);
      this.variables[name] = list ? given : given[0];
      value = `$${name}`;
    } else {
      given = ids(list ? this.g(fc.integer, { min: 1, max: 3 }) : 1);
      value = list ? `[${given.map((id) => JSON.stringify(id)).join(', ')}]` : JSON.stringify(given[0]);
    }
    if (prefix === 'P') given.forEach((id, i) => this.persons.push({ id, at: list ? `${key}.${arg}[${i}]` : `${key}.${arg}` }));
    this.coordinates.add(`Query.${field}`);
    const type = getNamedType(schema.getQueryType()!.getFields()[field]!.type).name;
    return `${key === field ? '' : `${key}: `}${field}(${arg}: ${value})${this.directive()} { ${this.composite(type, 1)} }`;
  }

  build(): string {
    const roots = Array.from({ length: this.g(fc.integer, { min: 1, max: 2 }) }, () => this.root(pick(this.g, ROOTS)));
    if (chance(this.g, 8)) roots.push(`${this.fresh('c')}: catalog(department: "tax") { coordinate class }`);
    const head = this.definitions.length > 0 ? `query Random(${this.definitions.join(', ')})` : 'query Random';
    return `${head} { ${roots.join(' ')} }\n${this.fragments.join('\n')}`;
  }
}

interface GrantSpec {
  fields: string[];
  purposes?: string[];
  mask?: string[];
  validFrom?: string;
  validTo?: string;
}

const unlockedBy = (c: Sdl, purposes: readonly string[] | undefined): boolean => purposes !== undefined && c.purposes.some((p) => purposes.includes(p));
const grantable = (coordinate: string, purposes: readonly string[] | undefined): boolean => {
  const c = sdl.get(coordinate)!;
  // The access log's fields are role-bound (auditor, consent issuer): their own tests cover them.
  if (c.department === 'catalog' || c.department === 'seal' || c.department === 'audit' || c.class === 'NOT_SHARED') return false;
  return c.class === 'UNCONDITIONAL' || unlockedBy(c, purposes);
};
/** What a grant covers, computed here from the SDL, independently of src/policy. */
const expand = (grant: GrantSpec): string[] =>
  grant.fields.flatMap((f) => (f.includes('.') ? [f] : Object.keys((schema.getType(f) as GraphQLObjectType).getFields()).map((n) => `${f}.${n}`).filter((c) => grantable(c, grant.purposes))));

function randomGrants(g: Gen, op: Operation, purpose: string | null): GrantSpec[] {
  const grants: GrantSpec[] = [];
  const all = [...sdl.keys()];
  const count = g(fc.integer, { min: 0, max: 3 });
  for (let i = 0; i < count; i++) {
    const purposes = chance(g, 3) ? undefined : g(fc.subarray, PURPOSES, { minLength: 1, maxLength: 2 });
    const candidates = [...op.coordinates, ...g(fc.subarray, all, { maxLength: 5 })].filter((c) => grantable(c, purposes));
    const types = DEPARTMENT_TYPES.map((t) => t.name).filter((t) => Object.keys((schema.getType(t) as GraphQLObjectType).getFields()).some((f) => grantable(`${t}.${f}`, purposes)));
    const fields = [...g(fc.subarray, candidates, { maxLength: Math.min(12, candidates.length) }), ...(chance(g, 3) && types.length > 0 ? [pick(g, types)] : [])];
    if (fields.length === 0) continue;
    const grant: GrantSpec = { fields: [...new Set(fields)] };
    if (purposes) grant.purposes = purposes;
    if (chance(g, 3)) grant.mask = g(fc.subarray, KINDS, { minLength: 1 });
    if (chance(g, 6)) grant.validTo = '2025-12-31';
    else if (chance(g, 6)) grant.validFrom = '2026-06-01';
    grants.push(grant);
  }
  if (chance(g, 2)) {
    // A grant of the whole operation for the request's purpose, so that allowed operations are common too.
    const purposes = purpose === null ? undefined : [purpose];
    const fields = [...op.coordinates].filter((c) => grantable(c, purposes));
    if (fields.length > 0) grants.push({ fields, ...(purposes ? { purposes } : {}), ...(chance(g, 2) ? { mask: g(fc.subarray, KINDS, { minLength: 1 }) } : {}) });
  }
  return grants;
}

/** The oracle: is a coordinate permitted under the purpose, and masked? Computed from the grant specs alone. */
function oracle(grants: GrantSpec[], purpose: string | null): { permitted(c: string): boolean; masked(c: string): boolean } {
  const live = grants.filter((g) => g.validTo === undefined && g.validFrom === undefined);
  const permitting = (c: string) => {
    const cls = sdl.get(c);
    if (cls === undefined) return [];
    if (cls.class === 'CONDITIONAL' && (purpose === null || !cls.purposes.includes(purpose))) return [];
    return live.filter((g) => (g.purposes === undefined || (purpose !== null && g.purposes.includes(purpose))) && expand(g).includes(c));
  };
  return {
    permitted: (c) => ['catalog', 'seal'].includes(sdl.get(c)?.department ?? '') || permitting(c).length > 0,
    masked: (c) => {
      const kind = sdl.get(c)?.sensitivity;
      const by = permitting(c);
      return kind !== null && kind !== undefined && by.length > 0 && by.every((g) => g.mask?.includes(kind));
    },
  };
}

describe('the policy engine, for random grants and operations', () => {
  it('never lets a field outside the grants into a reply, and denies before any department is called', async () => {
    let allowedRuns = 0;
    let deniedRuns = 0;
    await fc.assert(
      fc.asyncProperty(fc.gen(), async (g) => {
        const op = new Operation(g);
        const document = op.build();
        expect(validate(schema, parse(document))).toEqual([]);
        const purpose = chance(g, 6) ? null : pick(g, PURPOSES);
        const grants = randomGrants(g, op, purpose);
        const policy = structuredClone(DEMO_POLICY) as PolicyInput;
        policy.consumers = [
          { id: 'one-window-hall', name: 'hall', roles: ['consent-issuer'] },
          { id: 'random', name: 'random', roles: ['consumer'], grants },
        ];
        const engine = createPolicyEngine({ schema, policy, verifyConsent: fakeVerifier, now: () => NOW });

        const needsConsent = purpose !== null && REQUIRES_CONSENT.has(purpose) && op.persons.length > 0;
        const drop = needsConsent && chance(g, 3) ? g(fc.nat, { max: op.persons.length - 1 }) : -1;
        const consents = op.persons.filter((_, i) => i !== drop).map((p) => `consent:one-window-hall:${p.id}:${purpose}:${NOW / 1000 + 60}`);

        calls.length = 0;
        const { decision, result } = await runAsHub(engine, { consumer: 'random', purpose, document, variables: op.variables, consents });
        const o = oracle(grants, purpose);
        const expectedDenied = [...op.coordinates].filter((c) => !o.permitted(c)).sort();
        const consented = new Set(op.persons.filter((_, i) => i !== drop).map((p) => p.id));
        const missing = needsConsent ? op.persons.filter((p) => !consented.has(p.id)).map((p) => p.at) : [];

        if (!decision.allowed) {
          deniedRuns++;
          expect(calls).toEqual([]);
          expect(decision.denied).toEqual(expectedDenied);
          expect(decision.missingConsent.map((m) => m.subject)).toEqual(missing);
          expect(decision.error.extensions['code']).toBe('POLICY_DENIED');
          return;
        }
        allowedRuns++;
        expect(expectedDenied).toEqual([]);
        expect(missing).toEqual([]);
        expect(result?.errors).toBeUndefined();
        for (const c of calls) expect(`${c} permitted: ${o.permitted(c)}`).toBe(`${c} permitted: true`);
        const reply = JSON.stringify(result?.data);
        for (const [coordinate, raw] of Object.entries(RAW)) {
          if (o.masked(coordinate)) expect(reply).not.toContain(raw);
        }
        expect(new Set(decision.masked)).toEqual(new Set([...op.coordinates].filter((c) => o.masked(c))));
      }),
      { numRuns: 300 },
    );
    // Both outcomes must be exercised, or the property says little.
    expect(allowedRuns).toBeGreaterThan(30);
    expect(deniedRuns).toBeGreaterThan(30);
  });
});

