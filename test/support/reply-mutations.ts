/**
 * Broken variants of a valid department reply, for the property tests that hold a connector's
 * hand-written reply reader to its zod schema: at a random path, a member replaced by an odd value,
 * removed, or joined by an extra member.
 */
import fc from 'fast-check';

/** Values a broken reply may carry where something else belongs. */
export const ODD_VALUES = fc.constantFrom<unknown>('', 'x', [], {}, [''], null, undefined, 1, 1.5, true);

/** `value` with the member at `path` (indices taken modulo each level's member count) replaced (`how` 0), removed (1) or given an extra sibling (2). */
export function mutate(value: unknown, path: readonly number[], replacement: unknown, how: number): unknown {
  if (value === null || typeof value !== 'object') return replacement;
  const copy: Record<string, unknown> = Array.isArray(value) ? ({ ...value } as Record<string, unknown>) : { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  if (keys.length === 0 || path.length === 0) {
    if (how !== 2 || Array.isArray(value)) return replacement;
    return { ...copy, extra: replacement };
  }
  const key = keys[path[0]! % keys.length]!;
  if (how === 1 && path.length === 1 && !Array.isArray(value)) delete copy[key];
  else copy[key] = mutate(copy[key], path.slice(1), replacement, how);
  return Array.isArray(value) ? Object.assign([], copy) : copy;
}

/** Broken variants of the replies `valid` generates. */
export const mutated = (valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  fc.tuple(valid, fc.array(fc.nat(), { maxLength: 5 }), ODD_VALUES, fc.nat({ max: 2 })).map(([v, path, replacement, how]) => mutate(v, path, replacement, how));

/** Valid replies and broken ones, mixed. */
export const replies = (valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> => fc.oneof(valid, mutated(valid));

/** A zod schema's `safeParse`, as far as these properties use it. */
interface Schema {
  safeParse(value: unknown): { success: true; data: unknown } | { success: false };
}

/**
 * The property that a reader accepts exactly what `schema` accepts, with the schema's output, over
 * valid and broken replies; and that the generator made enough valid ones to mean something.
 */
export function expectReaderMatchesSchema(read: (value: unknown) => unknown, schema: Schema, valid: fc.Arbitrary<unknown>, numRuns = 1500): void {
  let accepted = 0;
  fc.assert(
    fc.property(replies(valid), (reply) => {
      const parsed = schema.safeParse(reply);
      const fast = read(reply);
      if (parsed.success) {
        expect(fast).toEqual(parsed.data);
        accepted++;
      } else expect(fast).toBeUndefined();
    }),
    { numRuns },
  );
  expect(accepted).toBeGreaterThan(10);
}
