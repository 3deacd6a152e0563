/**
 * What the hub publishes of a connector's events: only well-formed events of declared types,
 * with a subject of a declared kind; a connector's mistake is dropped and named, never pushed.
 * And the graph's EventType must be exactly the modules' declarations.
 */
import { acceptedEvents, declaredEventTypes, eventTypeProblems } from '../../../src/gateway';
import type { EventTypeSpec } from '../../../src/sdk';

const declared = new Map<string, EventTypeSpec>([
  ['LICENCE_ISSUED', { type: 'LICENCE_ISSUED', subject: 'ENTERPRISE', description: 'A licence 许可' }],
  ['ARREARS_ARISEN', { type: 'ARREARS_ARISEN', subject: 'PERSON', subjects: ['PERSON', 'ENTERPRISE'], description: 'Arrears 欠税' }],
]);
const good = { id: '7', type: 'LICENCE_ISSUED', subject: { kind: 'ENTERPRISE', id: '91370900MA3C5X0R3K' }, occurredAt: '2026-12-01T08:00:00+08:00', details: { licenceNumber: 'L-1' } };

describe('events the hub publishes', () => {
  it('keeps well-formed events of declared types, naming their department', () => {
    const problems: string[] = [];
    const out = acceptedEvents('market', declared, [good, { ...good, id: '8', type: 'ARREARS_ARISEN' }], (p) => problems.push(p));
    expect(out).toEqual([{ department: 'market', ...good }, { department: 'market', ...good, id: '8', type: 'ARREARS_ARISEN' }]);
    expect(problems).toEqual([]);
  });

  it.each([
    ['not an object', 'x', /not an object/],
    ['no id', { ...good, id: '' }, /without an id/],
    ['an undeclared type', { ...good, type: 'SOMETHING_ELSE' }, /does not declare/],
    ['a subject of another kind', { ...good, subject: { kind: 'PROPERTY', id: 'x' } }, /not a ENTERPRISE identifier/],
    ['no time', { ...good, occurredAt: 'yesterday' }, /occurredAt/],
    ['nested details', { ...good, details: { record: { name: 'x' } } }, /flat values/],
    ['too many details', { ...good, details: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i])) }, /at most 32/],
  ])('drops %s and names the problem', (_what, event, problem) => {
    const problems: string[] = [];
    expect(acceptedEvents('market', declared, [event, good], (p) => problems.push(p))).toHaveLength(1);
    expect(problems).toEqual([expect.stringMatching(problem)]);
  });

  it('refuses one event type declared by two modules, and a graph whose EventType differs from the declarations', () => {
    const spec = { type: 'LICENCE_ISSUED', subject: 'ENTERPRISE' as const, description: 'x x x' };
    expect(() => declaredEventTypes([{ id: 'a', events: [spec] }, { id: 'b', events: [spec] }])).toThrow(/declared by both "a" and "b"/);
    const types = declaredEventTypes([{ id: 'a', events: [spec] }]);
    expect(eventTypeProblems(['LICENCE_ISSUED'], types)).toEqual([]);
    expect(eventTypeProblems([], types)).toEqual([expect.stringMatching(/connector "a" declares event type LICENCE_ISSUED, but its SDL does not add it/)]);
    expect(eventTypeProblems(['LICENCE_ISSUED', 'GHOST_EVENT'], types)).toEqual([expect.stringMatching(/EventType.GHOST_EVENT is in the SDL, but no connector module declares it/)]);
  });
});
