/**
 * References to the three shared entities. A resolver that returns a Person, Enterprise or
 * Property returns only its identifier; each connector resolves its own fields from it, so no
 * department is asked for data the query did not select.
 */

/** A person, by citizen identity number. */
export interface PersonRef {
  readonly idNumber: string;
}

/** An enterprise, by unified social credit code. */
export interface EnterpriseRef {
  readonly creditCode: string;
}

/** A property unit, by unit number. */
export interface PropertyRef {
  readonly unitNumber: string;
}

/** A person or an enterprise holding a right. */
export type PartyRef = PersonRef | EnterpriseRef;

/** The reference of a party, from its kind and identifier as department systems store them. */
export function partyRef(kind: 'PERSON' | 'ENTERPRISE', id: string): PartyRef {
  return kind === 'PERSON' ? { idNumber: id } : { creditCode: id };
}
