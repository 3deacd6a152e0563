import {
  BadUserInputError,
  citizenIdFacts,
  citizenIdProblem,
  creditCodeProblem,
  unitNumberProblem,
  type EnterpriseRef,
  type PersonRef,
  type PropertyRef,
  type Resolvers,
} from '../sdk';

/** Most identifiers a list argument takes. */
export const MAX_IDS_PER_ARGUMENT = 100;

type Check = (value: string) => string | undefined;

function checked(argument: string, value: string, problemOf: Check): string {
  const problem = problemOf(value);
  if (problem !== undefined) throw new BadUserInputError(argument, problem);
  return value;
}

function checkedList(argument: string, values: readonly string[], problemOf: Check): string[] {
  if (values.length > MAX_IDS_PER_ARGUMENT) {
    throw new BadUserInputError(argument, `takes at most ${MAX_IDS_PER_ARGUMENT} identifiers, got ${values.length}`);
  }
  return values.map((value, i) => checked(`${argument}[${i}]`, value, problemOf));
}

/**
 * The resolvers of the shared part of the graph: root fields that validate identifiers before
 * any department is asked and return references, and the Person fields read from the identity
 * number itself.
 */
export const rootResolvers: Resolvers = {
  Query: {
    person: (_, { idNumber }): PersonRef => ({ idNumber: checked('idNumber', idNumber, citizenIdProblem) }),
    people: (_, { idNumbers }): PersonRef[] => checkedList('idNumbers', idNumbers, citizenIdProblem).map((idNumber) => ({ idNumber })),
    enterprise: (_, { creditCode }): EnterpriseRef => ({ creditCode: checked('creditCode', creditCode, creditCodeProblem) }),
    enterprises: (_, { creditCodes }): EnterpriseRef[] =>
      checkedList('creditCodes', creditCodes, creditCodeProblem).map((creditCode) => ({ creditCode })),
    property: (_, { unitNumber }): PropertyRef => ({ unitNumber: checked('unitNumber', unitNumber, unitNumberProblem) }),
    properties: (_, { unitNumbers }): PropertyRef[] =>
      checkedList('unitNumbers', unitNumbers, unitNumberProblem).map((unitNumber) => ({ unitNumber })),
  },
  Person: {
    idNumber: (p) => p.idNumber,
    gender: (p) => citizenIdFacts(p.idNumber).gender,
    birthDate: (p) => citizenIdFacts(p.idNumber).birthDate,
  },
  Enterprise: { creditCode: (e) => e.creditCode },
  Property: { unitNumber: (p) => p.unitNumber },
  Party: {
    __resolveType: (party) => ('idNumber' in party ? 'Person' : 'Enterprise'),
  },
};
