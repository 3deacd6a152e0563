import fc from 'fast-check';
import { parse, type DocumentNode } from 'graphql';
import { queryHashOf } from '../../../src/gateway/pipeline/stages/receipt';
import { hashText } from '../../../src/seal';

describe("the receipt's query hash, remembered per parsed document", () => {
  it('is always the hash of the very text given, whichever document it comes with', () => {
    const documents: (DocumentNode | undefined)[] = [parse('{ a }'), parse('{ b }'), undefined];
    const texts = fc.oneof(fc.constantFrom('{ a }', '{ b }', '{ a } ', ''), fc.string({ maxLength: 30 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: documents.length - 1 }), texts), { maxLength: 30 }), (asks) => {
        for (const [i, query] of asks) expect(queryHashOf(documents[i], query)).toBe(hashText(query));
      }),
      { numRuns: 300 },
    );
  });
});
