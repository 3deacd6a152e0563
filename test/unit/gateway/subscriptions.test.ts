/**
 * Subscription streams without a hub: the pipeline's open and deliver are stand-ins, the event
 * stream and the stream logic are real. Order, filtering by type, the lifetime bound, a refused
 * delivery ending the stream, a slow reader, closing; and, property-based, that every delivered
 * event was asked for and arrives once, in order.
 */
import fc from 'fast-check';
import { buildSchema, parse, type OperationDefinitionNode } from 'graphql';
import { createLocalEventStream, createSubscriptions, type GatewayReply, type HubEvent, type HubReply, type StandingOperation } from '../../../src/gateway';

const schema = buildSchema(`
  enum EventType { A_HAPPENED B_HAPPENED C_HAPPENED }
  type DepartmentEvent { id: ID! type: EventType! }
  type Query { _: Boolean }
  type Subscription { departmentEvents(types: [EventType!]!): DepartmentEvent! }
`);

function standing(query: string, variables: Record<string, unknown> = {}): StandingOperation {
  const document = parse(query);
  return {
    id: 'opening-1',
    request: {},
    source: '127.0.0.1',
    caller: null,
    body: { query, variables, operationName: null },
    document,
    operation: document.definitions[0] as OperationDefinitionNode,
  };
}

const event = (n: number, type = 'A_HAPPENED', subject = `S${n % 3}`): HubEvent => ({
  department: 'dept',
  id: `e${n}`,
  type,
  subject: { kind: 'ENTERPRISE', id: subject },
  occurredAt: '2026-12-01T08:00:00+08:00',
});

type Deliver = (root: { departmentEvents: HubEvent }) => HubReply | Promise<HubReply>;
const granted: Deliver = ({ departmentEvents }) => ({ requestId: `r-${departmentEvents.id}`, code: null, body: { data: { departmentEvents: { id: departmentEvents.id, type: departmentEvents.type } } } });

function setup(options: { deliver?: Deliver; maxLifetimeMs?: number; maxPending?: number; maxStreams?: number; query?: string; refuseOpen?: boolean } = {}) {
  const events = createLocalEventStream();
  const delivered: string[] = [];
  const subscriptions = createSubscriptions({
    schema,
    events,
    maxLifetimeMs: options.maxLifetimeMs ?? 60_000,
    maxPending: options.maxPending ?? 100,
    maxStreams: options.maxStreams ?? 10,
    async open() {
      if (options.refuseOpen) return { reply: { requestId: 'refused', code: 'POLICY_DENIED', body: { errors: [{ message: 'denied' }] } } };
      return { reply: { requestId: 'opening-1', code: null, body: { data: null } }, standing: standing(options.query ?? 'subscription { departmentEvents(types: [A_HAPPENED, B_HAPPENED]) { id type } }') };
    },
    async deliver(_standing, root) {
      const r = root as { departmentEvents: HubEvent };
      delivered.push(r.departmentEvents.id);
      return (options.deliver ?? granted)(r);
    },
  });
  return { events, subscriptions, delivered };
}

async function take(stream: AsyncIterable<GatewayReply>, n: number): Promise<GatewayReply[]> {
  const out: GatewayReply[] = [];
  if (n === 0) return out;
  for await (const reply of stream) {
    out.push(reply);
    if (out.length === n) break;
  }
  return out;
}

const idsOf = (replies: GatewayReply[]): unknown[] => replies.map((r) => (r.data as { departmentEvents?: { id: string } } | undefined)?.departmentEvents?.id ?? (r.errors?.[0] as { extensions: { code: string } }).extensions.code);

describe('subscription streams', () => {
  it('delivers the asked types in the order they happen, each through deliver', async () => {
    const { events, subscriptions } = setup();
    const { stream } = await subscriptions.subscribe({});
    await events.publish([event(1), event(2, 'C_HAPPENED'), event(3, 'B_HAPPENED'), event(4)]);
    expect(idsOf(await take(stream!, 3))).toEqual(['e1', 'e3', 'e4']);
    expect(subscriptions.open).toBe(0);
  });

  it('takes the types from variables too', async () => {
    const { events } = setup();
    const opened = await createSubscriptions({
      schema,
      events,
      maxLifetimeMs: 60_000,
      maxPending: 10,
      maxStreams: 10,
      open: async () => ({ reply: { requestId: 'o', code: null, body: {} }, standing: standing('subscription($t: [EventType!]!) { departmentEvents(types: $t) { id } }', { t: ['C_HAPPENED'] }) }),
      deliver: async (_s, root) => granted(root as { departmentEvents: HubEvent }),
    }).subscribe({});
    await events.publish([event(1), event(2, 'C_HAPPENED')]);
    expect(idsOf(await take(opened.stream!, 1))).toEqual(['e2']);
  });

  it('answers a refused opening as it is, with no stream', async () => {
    const { subscriptions } = setup({ refuseOpen: true });
    const opened = await subscriptions.subscribe({});
    expect(opened.stream).toBeUndefined();
    expect(opened.reply.code).toBe('POLICY_DENIED');
  });

  it('ends with the refusal of a delivery (a grant that ended) and delivers nothing after it', async () => {
    const { events, subscriptions, delivered } = setup({ deliver: (root) => (root.departmentEvents.id === 'e2' ? { requestId: 'x', code: 'POLICY_DENIED', body: { errors: [{ message: 'grant ended', extensions: { code: 'POLICY_DENIED' } }] } } : granted(root)) });
    const { stream } = await subscriptions.subscribe({});
    await events.publish([event(1), event(2), event(3)]);
    const all: GatewayReply[] = [];
    for await (const reply of stream!) all.push(reply);
    expect(idsOf(all)).toEqual(['e1', 'POLICY_DENIED']);
    expect(delivered).toEqual(['e1', 'e2']);
  });

  it('ends at its lifetime bound with SUBSCRIPTION_EXPIRED', async () => {
    const { subscriptions } = setup({ maxLifetimeMs: 30 });
    const { stream } = await subscriptions.subscribe({});
    const all: GatewayReply[] = [];
    for await (const reply of stream!) all.push(reply);
    expect(idsOf(all)).toEqual(['SUBSCRIPTION_EXPIRED']);
  });

  it('ends a stream whose reader lags with SUBSCRIPTION_LAGGING', async () => {
    const { events, subscriptions } = setup({ maxPending: 3 });
    const { stream } = await subscriptions.subscribe({});
    // Nobody reads: the events wait, and the fourth one is one too many.
    await events.publish([event(1), event(2), event(3), event(4)]);
    const all: GatewayReply[] = [];
    for await (const reply of stream!) all.push(reply);
    expect(idsOf(all)).toEqual(['SUBSCRIPTION_LAGGING']);
  });

  it('refuses streams beyond the bound with RATE_LIMITED, and ends every stream with SHUTTING_DOWN on close', async () => {
    const { subscriptions } = setup({ maxStreams: 1 });
    const first = await subscriptions.subscribe({});
    expect((await subscriptions.subscribe({})).reply.code).toBe('RATE_LIMITED');
    subscriptions.close();
    expect(idsOf(await take(first.stream!, 1))).toEqual(['SHUTTING_DOWN']);
    expect((await subscriptions.subscribe({})).reply.code).toBe('SHUTTING_DOWN');
  });

  it('holds each consumer to maxStreamsPerConsumer streams, counting a stream from its opening to its end (property)', async () => {
    const consumers = ['tax-bureau', 'social-security-bureau', 'market-regulation-bureau'];
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.record({ open: fc.boolean(), who: fc.nat(consumers.length - 1), pick: fc.nat() }), { maxLength: 40 }),
        async (bound, steps) => {
          const events = createLocalEventStream();
          let next = consumers[0]!;
          const subscriptions = createSubscriptions({
            schema,
            events,
            maxLifetimeMs: 60_000,
            maxPending: 10,
            maxStreams: 100,
            maxStreamsPerConsumer: bound,
            async open() {
              const base = standing('subscription { departmentEvents(types: [A_HAPPENED]) { id } }');
              return { reply: { requestId: 'o', code: null, body: { data: null } }, standing: { ...base, caller: { consumer: next } as never } };
            },
            async deliver() {
              return { requestId: 'd', code: null, body: { data: null } };
            },
          });
          const open = new Map<string, { close(): void }[]>(consumers.map((c) => [c, []]));
          for (const step of steps) {
            const who = consumers[step.who]!;
            const held = open.get(who)!;
            if (step.open) {
              next = who;
              const opened = await subscriptions.subscribe({});
              if (held.length >= bound) {
                expect(opened.stream).toBeUndefined();
                expect(opened.reply.code).toBe('RATE_LIMITED');
                expect(((opened.reply.body as GatewayReply).errors![0] as { message: string }).message).toBe(`This consumer holds ${held.length} streams on this instance already, the most it may (subscriptions.maxStreamsPerConsumer): close one, or retry later.`);
              } else {
                expect(opened.stream).toBeDefined();
                held.push(opened.stream!);
              }
            } else if (held.length > 0) {
              held.splice(step.pick % held.length, 1)[0]!.close();
            }
            expect(subscriptions.open).toBe([...open.values()].reduce((n, list) => n + list.length, 0));
          }
          subscriptions.close();
        },
      ),
      { numRuns: 100 },
    );
  });

  it('stops listening when the client goes away', async () => {
    const { events, subscriptions } = setup();
    const { stream } = await subscriptions.subscribe({});
    expect(events.listeners).toBe(1);
    stream!.close();
    expect(events.listeners).toBe(0);
    expect(await take(stream!, 1)).toEqual([]);
  });

  it('property: every delivery is of an asked type, once, in publishing order (duplicates published again are dropped)', async () => {
    const types = ['A_HAPPENED', 'B_HAPPENED', 'C_HAPPENED'];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ n: fc.integer({ min: 0, max: 30 }), type: fc.constantFrom(...types) }), { maxLength: 40 }), async (script) => {
        const { events, subscriptions } = setup({ maxPending: 1000 });
        const { stream } = await subscriptions.subscribe({});
        const published = new Map<string, string>();
        for (const { n, type } of script) {
          const e = event(n, published.get(`e${n}`) ?? type);
          published.set(e.id, e.type);
          await events.publish([e]);
        }
        const expected = [...published].filter(([, type]) => type !== 'C_HAPPENED').map(([id]) => id);
        const got = idsOf(await take(stream!, expected.length));
        stream!.close();
        expect(got).toEqual(expected);
      }),
      { numRuns: 60 },
    );
  });

  it('property: with two-step deliveries (stage), each reply is yielded after its record is durable, in order; a refusal ends the stream and nothing after it runs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 15 }), fc.option(fc.integer({ min: 1, max: 15 }), { nil: undefined }), fc.scheduler(), async (count, refuseAt, s) => {
        const events = createLocalEventStream();
        const ran: string[] = [];
        const durable = new Set<string>();
        const subscriptions = createSubscriptions({
          schema,
          events,
          maxLifetimeMs: 60_000,
          maxPending: 1000,
          maxStreams: 10,
          open: async () => ({ reply: { requestId: 'o', code: null, body: {} }, standing: standing('subscription { departmentEvents(types: [A_HAPPENED]) { id type } }') }),
          deliver: async () => {
            throw new Error('a stream with stage never calls deliver');
          },
          async stage(_standing, root) {
            const e = (root as { departmentEvents: HubEvent }).departmentEvents;
            ran.push(e.id);
            await s.schedule(Promise.resolve(), `run ${e.id}`);
            const refused = e.id === `e${refuseAt}`;
            const reply: Promise<HubReply> = s.schedule(Promise.resolve(), `record ${e.id}`).then(() => {
              durable.add(e.id);
              return refused ? { requestId: 'x', code: 'POLICY_DENIED', body: { errors: [{ message: 'grant ended', extensions: { code: 'POLICY_DENIED' } }] } } : granted({ departmentEvents: e });
            });
            return { code: refused ? 'POLICY_DENIED' : null, reply };
          },
        });
        const { stream } = await subscriptions.subscribe({});
        await events.publish(Array.from({ length: count }, (_, k) => event(k + 1)));
        const refusedHere = refuseAt !== undefined && refuseAt <= count;
        const got = await s.waitFor(
          (async () => {
            const out: GatewayReply[] = [];
            for await (const reply of stream!) {
              const id = (reply.data as { departmentEvents?: { id: string } } | undefined)?.departmentEvents?.id;
              if (id !== undefined) expect(durable.has(id)).toBe(true);
              out.push(reply);
              if (!refusedHere && out.length === count) break;
            }
            return out;
          })(),
        );
        await s.waitIdle();
        const last = refusedHere ? refuseAt! : count;
        const expected = Array.from({ length: last }, (_, k) => `e${k + 1}`);
        expect(ran).toEqual(expected);
        expect(idsOf(got)).toEqual(refusedHere ? [...expected.slice(0, -1), 'POLICY_DENIED'] : expected);
      }),
      { numRuns: 100 },
    );
  });

  it('stops running a backlog once the lifetime bound has passed by the clock, and ends with SUBSCRIPTION_EXPIRED', async () => {
    const events = createLocalEventStream();
    let t = 0;
    const ran: string[] = [];
    const subscriptions = createSubscriptions({
      schema,
      events,
      maxLifetimeMs: 25,
      maxPending: 100,
      maxStreams: 10,
      now: () => t,
      open: async () => ({ reply: { requestId: 'o', code: null, body: {} }, standing: standing('subscription { departmentEvents(types: [A_HAPPENED]) { id type } }') }),
      deliver: async () => {
        throw new Error('a stream with stage never calls deliver');
      },
      async stage(_standing, root) {
        const e = (root as { departmentEvents: HubEvent }).departmentEvents;
        ran.push(e.id);
        t += 10;
        return { code: null, reply: Promise.resolve(granted({ departmentEvents: e })) };
      },
    });
    const { stream } = await subscriptions.subscribe({});
    await events.publish([1, 2, 3, 4, 5, 6].map((n) => event(n)));
    const all: GatewayReply[] = [];
    for await (const reply of stream!) all.push(reply);
    expect(ran).toEqual(['e1', 'e2', 'e3']);
    const ids = idsOf(all);
    expect(ids.at(-1)).toBe('SUBSCRIPTION_EXPIRED');
    expect(ran.slice(0, ids.length - 1)).toEqual(ids.slice(0, -1));
  });
});
