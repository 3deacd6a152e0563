/** Proof kind declarations of connector modules (`ConnectorModule.proofs`): each mistake refused, naming the module and the kind. */
import { defineConnectorModule, z, type EventTypeSpec, type ProofKindSpec } from '../../../src/sdk';

const EVENTS: EventTypeSpec[] = [{ type: 'BILL_OVERDUE', subject: 'PERSON', description: 'a water bill became overdue' }];
const GOOD: ProofKindSpec = { kind: 'NO_WATER_DEBT', title: '无欠费证明 Certificate of no water debt', subject: 'PERSON', description: 'No overdue water bill 无欠费', validityDays: 30, revokedBy: ['BILL_OVERDUE'] };

function moduleWith(proofs: unknown) {
  return () =>
    defineConnectorModule({
      id: 'water-utility',
      title: 'Water utility 自来水',
      settings: z.strictObject({}),
      typeDefs: () => 'type Query { x: Int }',
      create: () => {
        throw new Error('not built here');
      },
      events: EVENTS,
      proofs: proofs as ProofKindSpec[],
    });
}

describe('proof kinds of a module', () => {
  it('accept a well-formed kind revoked by one of the module\'s own event types', () => {
    expect(moduleWith([GOOD, { ...GOOD, kind: 'WATER_ACCOUNT', subject: 'ENTERPRISE', subjects: ['ENTERPRISE', 'PERSON'], revokedBy: undefined }])).not.toThrow();
  });

  it.each<[string, unknown, string]>([
    ['a list', GOOD, 'proofs must be a list of proof kinds'],
    ['a name', [{ ...GOOD, kind: 'nowaterdebt' }], 'proof kind "nowaterdebt" must be SCREAMING_SNAKE_CASE'],
    ['distinct kinds', [GOOD, GOOD], 'proof kind NO_WATER_DEBT is declared twice'],
    ['a subject', [{ ...GOOD, subject: 'CAR' }], 'proof kind NO_WATER_DEBT names no subject kind'],
    ['subjects starting with the subject', [{ ...GOOD, subjects: ['ENTERPRISE', 'PERSON'] }], 'subjects must list distinct subject kinds, starting with its subject PERSON'],
    ['a title', [{ ...GOOD, title: '' }], 'proof kind NO_WATER_DEBT needs a title'],
    ['a description', [{ ...GOOD, description: ' ' }], 'proof kind NO_WATER_DEBT needs a description'],
    ['a validity of whole days', [{ ...GOOD, validityDays: 0.5 }], 'validityDays must be a whole number of days from 1 to 366'],
    ['a validity of at most a year', [{ ...GOOD, validityDays: 400 }], 'validityDays must be a whole number of days from 1 to 366'],
    ['labels that are text', [{ ...GOOD, claimLabels: { hasArrears: 7 } }], 'claimLabels must map claim names to labels'],
    ['labels as a map', [{ ...GOOD, claimLabels: ['是否欠税'] }], 'claimLabels must map claim names to labels'],
    ['revoking events of its own', [{ ...GOOD, revokedBy: ['TRANSFER_REGISTERED'] }], 'is revoked by "TRANSFER_REGISTERED", which is not one of the module\'s event types'],
  ])('need %s', (_what, proofs, message) => {
    expect(moduleWith(proofs)).toThrow(message);
  });
});
