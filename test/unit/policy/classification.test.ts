import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { Kind, parse, type ConstDirectiveNode, type StringValueNode } from 'graphql';
import { SCHEMA_DIR, loadTypeDefs } from '../../../src/gateway/schema';
import { assertFullyClassified, createPolicyEngine, DEMO_POLICY, SchemaClassificationError } from '../../../src/policy';
import { sdlClassification } from './helpers';

const build = (...extra: string[]) => makeExecutableSchema({ typeDefs: [...loadTypeDefs(), ...extra] });

function thrown(fn: () => unknown): SchemaClassificationError {
  try {
    fn();
  } catch (error) {
    return error as SchemaClassificationError;
  }
  throw new Error('expected a throw');
}

describe('the classification of schema/', () => {
  it('classifies every field of the graph, root fields and identifiers included', () => {
    expect(() => assertFullyClassified(build())).not.toThrow();
  });

  it('names each field by the schema file it is declared in', () => {
    for (const file of readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.graphql'))) {
      const department = path.basename(file, '.graphql');
      const doc = parse(readFileSync(path.join(SCHEMA_DIR, file), 'utf8'));
      for (const def of doc.definitions) {
        if (def.kind !== Kind.OBJECT_TYPE_DEFINITION && def.kind !== Kind.OBJECT_TYPE_EXTENSION) continue;
        for (const field of def.fields ?? []) {
          const share = field.directives?.find((d: ConstDirectiveNode) => d.name.value === 'share');
          const arg = share?.arguments?.find((a) => a.name.value === 'department');
          expect(`${def.name.value}.${field.name.value} @ ${(arg?.value as StringValueNode | undefined)?.value}`).toBe(
            `${def.name.value}.${field.name.value} @ ${department}`,
          );
        }
      }
    }
  });

  it('keeps some fields not shared at all', () => {
    const notShared = [...sdlClassification(build())].filter(([, c]) => c.class === 'NOT_SHARED').map(([k]) => k);
    expect(notShared).toEqual(expect.arrayContaining(['Taxpayer.taxpayerId', 'EmployerAccount.accountNumber']));
  });

  it('refuses to build when a department field is unclassified, naming the field', () => {
    const error = thrown(() => assertFullyClassified(build('extend type Person { shoeSize: Int }')));
    expect(error).toBeInstanceOf(SchemaClassificationError);
    expect(error.message).toBe(
      'Schema classification failed:\n  - Person.shoeSize is not classified: add @share(class: ..., department: ..., updateCycle: ...)',
    );
  });

  it('refuses a new type whose fields are unclassified, naming each of them', () => {
    const error = thrown(() =>
      assertFullyClassified(build('type Vehicle { plate: String colour: String } extend type Person { vehicles: [Vehicle!] @share(class: UNCONDITIONAL, department: "transport", updateCycle: DAILY) }')),
    );
    expect(error.problems).toEqual([
      'Vehicle.plate is not classified: add @share(class: ..., department: ..., updateCycle: ...)',
      'Vehicle.colour is not classified: add @share(class: ..., department: ..., updateCycle: ...)',
    ]);
  });

  it('refuses a conditional field that names no purpose', () => {
    const error = thrown(() => assertFullyClassified(build('extend type Person { shoeSize: Int @share(class: CONDITIONAL, department: "tax", updateCycle: DAILY) }')));
    expect(error.problems).toEqual(['Person.shoeSize is CONDITIONAL but names no purpose that unlocks it']);
  });

  it('refuses purposes on a field that is not conditional', () => {
    const error = thrown(() =>
      assertFullyClassified(build('extend type Person { shoeSize: Int @share(class: UNCONDITIONAL, purposes: ["INVESTIGATION"], department: "tax", updateCycle: DAILY) }')),
    );
    expect(error.problems).toEqual(['Person.shoeSize is UNCONDITIONAL: only a CONDITIONAL field names purposes']);
  });

  it('refuses a sensitivity on a value that is not a string', () => {
    const error = thrown(() =>
      assertFullyClassified(build('extend type Person { shoeSize: Int @share(class: UNCONDITIONAL, sensitivity: PHONE, department: "tax", updateCycle: DAILY) }')),
    );
    expect(error.problems).toEqual(['Person.shoeSize is masked as PHONE but is not a String or ID']);
  });

  it('refuses a department that is not kebab-case', () => {
    const error = thrown(() =>
      assertFullyClassified(build('extend type Person { shoeSize: Int @share(class: UNCONDITIONAL, department: "Tax Office", updateCycle: DAILY) }')),
    );
    expect(error.problems).toEqual(['Person.shoeSize needs a kebab-case department, but got: "Tax Office"']);
  });

  it('refuses to create an engine over an unclassified schema', () => {
    expect(() => createPolicyEngine({ schema: build('extend type Person { shoeSize: Int }'), policy: DEMO_POLICY })).toThrow(SchemaClassificationError);
  });

  it('refuses a schema that names a purpose the registry does not know', () => {
    const schema = build('extend type Person { shoeSize: Int @share(class: CONDITIONAL, purposes: ["SHOE_SHOPPING"], department: "tax", updateCycle: DAILY) }');
    expect(() => createPolicyEngine({ schema, policy: DEMO_POLICY })).toThrow(
      'Invalid sharing policy:\n  - schema Person.shoeSize: unlocked by unknown purpose "SHOE_SHOPPING"',
    );
  });
});
