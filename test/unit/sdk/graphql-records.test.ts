import { derivePlan, HubErrorCode, parseRemoteSchema } from '../../../src/sdk';
import { ReplyReader } from '../../../src/sdk/graphql/records';

const SDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
  type Query { account(id: ID!): Account }
  type Person @key(fields: "idNumber") { idNumber: ID! account: Account }
  type Account @key(fields: "id") { id: ID!  holder: Person!  count: Int!  rate: Float  state: State!  entries: [Entry!]!  note: String }
  type Entry { at: String!  amount: Float! }
  enum State { OPEN CLOSED }`;
const plan = derivePlan({ connector: 'dept', remote: parseRemoteSchema('dept', SDL), classification: {}, mode: 'federation' });
const good = { id: 7, holder: { idNumber: 'P1', extra: 'dropped' }, count: 2, rate: null, state: 'OPEN', entries: [{ at: '2026-01', amount: 1.5 }], note: null, unasked: 'dropped' };

describe('reading a reply against the plan', () => {
  it('copies the planned fields only, entities as references, IDs as strings, and collects keyed records', () => {
    const reader = new ReplyReader(plan, 'dept');
    const record = reader.record('Account', good);
    expect(record).toEqual({ id: '7', holder: { idNumber: 'P1' }, count: 2, rate: null, state: 'OPEN', entries: [{ at: '2026-01', amount: 1.5 }], note: null });
    expect(reader.found).toEqual([{ typeName: 'Account', key: '7', record }]);
    // The shared entity's record: the connector's fields only, a keyed record inside read whole.
    expect(new ReplyReader(plan, 'dept').record('Person', { account: good })).toEqual({ account: record });
  });

  it.each([
    ['a missing field', { ...good, count: undefined }, 'Account.count is missing, but its type is non-null'],
    ['a missing nullable field', { ...good, note: undefined }, 'Account.note is missing'],
    ['null where the type is non-null', { ...good, state: null }, 'Account.state is null, but its type is non-null'],
    ['a Float where an Int is declared', { ...good, count: 2.5 }, 'Account.count is not an Int'],
    ['a value outside the enum', { ...good, state: 'FROZEN' }, 'Account.state is not a value of the enum State'],
    ['a list that is not one', { ...good, entries: {} }, 'Account.entries is not a list'],
    ['a nested object of the wrong shape', { ...good, entries: [{ at: 5, amount: 1 }] }, 'Entry.at is not a String'],
    ['a reference without its key', { ...good, holder: {} }, 'Account.holder.idNumber (the key of Person) is missing or not an identifier'],
  ])('refuses %s as UPSTREAM_INVALID_RESPONSE naming the field, not the value', (_what, value, reason) => {
    const read = () => new ReplyReader(plan, 'dept').record('Account', value);
    expect(read).toThrow(expect.objectContaining({ code: HubErrorCode.UPSTREAM_INVALID_RESPONSE, message: `Department system "dept" sent an invalid reply: ${reason}.` }));
  });
});
