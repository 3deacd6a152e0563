/** Event type declarations of connector modules: `subjects` for a type about several kinds of subject. */
import { connectorModule as marketRegulation } from '../../../connectors/market-regulation';
import { connectorModule as realEstate } from '../../../connectors/real-estate';
import { connectorModule as tax } from '../../../connectors/tax';
import { defineConnectorModule, z, type EventTypeSpec } from '../../../src/sdk';

function moduleWith(events: unknown) {
  return () =>
    defineConnectorModule({
      id: 'water-utility',
      title: 'Water utility 自来水',
      settings: z.strictObject({}),
      typeDefs: () => 'type Query { x: Int }',
      create: () => {
        throw new Error('not built here');
      },
      events: events as EventTypeSpec[],
    });
}

describe('event types of a module', () => {
  it('accept subjects listing several kinds, starting with the subject', () => {
    expect(moduleWith([{ type: 'ARREARS_ARISEN', subject: 'PERSON', subjects: ['PERSON', 'ENTERPRISE'], description: 'arrears arose' }])).not.toThrow();
  });

  it.each([
    [['ENTERPRISE', 'PERSON']],
    [['PERSON', 'PERSON']],
    [['PERSON', 'CAR']],
    ['PERSON'],
  ])('refuse subjects %j for subject PERSON, naming the type', (subjects) => {
    expect(moduleWith([{ type: 'ARREARS_ARISEN', subject: 'PERSON', subjects, description: 'arrears arose' }])).toThrow(
      'connector module "water-utility": event type ARREARS_ARISEN: subjects must list distinct subject kinds, starting with its subject PERSON',
    );
  });

  it('are declared by the three departments with change feeds: 14 types, unique across them', () => {
    const all = [...realEstate.events!, ...tax.events!, ...marketRegulation.events!].map((e) => e.type);
    expect(all).toHaveLength(14);
    expect(new Set(all).size).toBe(14);
  });
});
