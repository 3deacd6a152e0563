/**
 * The tax sandbox's change routes (`POST /__sandbox/<route>`): an arrear arises 产生欠税 or is
 * settled 欠税清缴, each recorded in the taxpayer's entry and appended to the change log that
 * GetChanges serves.
 */
import { citizenIdProblem, creditCodeProblem } from '../../src/sdk';
import { SandboxRouteError, nowInChina, routeFields, todayInChina, type SandboxChangeRoute } from '../sandbox-kit';
import type { TaxType } from '../seed/model';
import { TaxStateError, raiseArrear, settleArrear, type TaxStore } from './store';

const TAX_TYPES: readonly TaxType[] = ['INDIVIDUAL_INCOME', 'DEED', 'VALUE_ADDED', 'CORPORATE_INCOME', 'PROPERTY'];

/** The routes: `arrears` {taxpayerId, taxType, amount, since?} and `arrear-settlements` {taxpayerId, taxType}; each answers `{change}`. */
export function taxChangeRoutes(store: TaxStore): Readonly<Record<string, SandboxChangeRoute>> {
  /** The taxpayer a route names: 400 for an id that is neither identifier, 404 for one not registered. */
  function taxpayer(body: Readonly<Record<string, unknown>>): string {
    const id = routeFields.text(body, 'taxpayerId', {
      max: 18,
      problem: (v) => (citizenIdProblem(v) === undefined || creditCodeProblem(v) === undefined ? undefined : 'must be a citizen identity number (GB 11643) or a credit code (GB 32100)'),
    });
    if (!store.taxpayers.has(id)) throw new SandboxRouteError('"taxpayerId" names no registered taxpayer', 404);
    return id;
  }

  function recorded<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      throw error instanceof TaxStateError ? new SandboxRouteError(error.message, 409) : error;
    }
  }

  return {
    arrears: (body) => {
      const id = taxpayer(body);
      const taxType = routeFields.oneOf(body, 'taxType', TAX_TYPES);
      const amount = routeFields.amount(body, 'amount');
      const since = routeFields.date(body, 'since', todayInChina());
      return { change: recorded(() => raiseArrear(store, id, taxType, amount, since, nowInChina())) };
    },
    'arrear-settlements': (body) => {
      const id = taxpayer(body);
      const taxType = routeFields.oneOf(body, 'taxType', TAX_TYPES);
      return { change: recorded(() => settleArrear(store, id, taxType, nowInChina())) };
    },
  };
}
