/**
 * defineConnectorModule: a module's mistakes are named when it is defined, its event types
 * included (the hub's EventType enum is their union, so a bad one would break the graph).
 */
import { defineConnectorModule, z, type ConnectorModule, type EventTypeSpec } from '../../../src/sdk';

const base = (events?: readonly EventTypeSpec[]): ConnectorModule =>
  ({
    id: 'water-utility',
    title: 'Water utility 供水',
    settings: z.strictObject({}),
    typeDefs: () => 'type Query { _: Boolean }',
    create: () => {
      throw new Error('not built in this test');
    },
    ...(events ? { events } : {}),
  }) as ConnectorModule;

describe('defineConnectorModule', () => {
  it('accepts declared event types', () => {
    const module = defineConnectorModule(base([{ type: 'METER_REPLACED', subject: 'PROPERTY', description: 'A water meter was replaced 换表' }]));
    expect(module.events?.map((e) => e.type)).toEqual(['METER_REPLACED']);
  });

  it.each([
    [[{ type: 'meterReplaced', subject: 'PROPERTY', description: 'x x x' }], /SCREAMING_SNAKE_CASE/],
    [[{ type: 'REPLACED', subject: 'PROPERTY', description: 'x x x' }], /two words or more/],
    [[{ type: 'METER_REPLACED', subject: 'METER', description: 'x x x' }], /names no subject kind/],
    [[{ type: 'METER_REPLACED', subject: 'PROPERTY', description: '' }], /needs a description/],
    [
      [
        { type: 'METER_REPLACED', subject: 'PROPERTY', description: 'one' },
        { type: 'METER_REPLACED', subject: 'PROPERTY', description: 'two' },
      ],
      /declared twice/,
    ],
  ])('names a bad event type: %j', (events, message) => {
    expect(() => defineConnectorModule(base(events as unknown as EventTypeSpec[]))).toThrow(message);
  });
});
