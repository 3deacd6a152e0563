/**
 * One error contract: the registry (src/sdk/error-codes.ts) holds every code the hub produces,
 * README.md's tables say exactly what it says, every coded error is a HubError, and `datarun`
 * exits with the registry's codes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CommanderError } from 'commander';
import { AuditErrorCode, AuditOptionsError, AuditUnavailableError } from '../../src/audit';
import { CliUsageError, exitCodeOfError, exitCodeOfReply } from '../../src/cli/exit';
import { DataRunClientError } from '../../src/client';
import { ConfigError } from '../../src/gateway/config';
import { PolicyConfigError, PolicyDeniedError, SchemaClassificationError } from '../../src/policy';
import {
  BadUserInputError,
  CLI_EXIT,
  CLI_EXIT_MEANING,
  ConnectorDefinitionError,
  ConnectorTimeoutError,
  ConnectorUnavailableError,
  ERROR_CODES,
  HubError,
  HubErrorCode,
  UpstreamInvalidResponseError,
  clientCode,
  errorInfo,
} from '../../src/sdk';
import { SealError, SealErrorCode, UnauthenticatedError } from '../../src/seal';
import { RedisUnavailableError, ReplayGuardFullError, ReplayGuardUnavailableError, StateError, StateErrorCode } from '../../src/state';
import { RedisSettingsError, StreamSequenceConflictError } from '../../src/state/errors';

const readme = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');

/** The rows of the table between `<!-- name -->` and `<!-- /name -->`, header and rule left out, cells trimmed. */
function table(name: string): string[][] {
  const start = readme.indexOf(`<!-- ${name} -->`);
  const end = readme.indexOf(`<!-- /${name} -->`);
  expect(start).toBeGreaterThanOrEqual(0);
  expect(end).toBeGreaterThan(start);
  return readme
    .slice(start, end)
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .slice(2)
    .map((line) => line.slice(1, -1).split('|').map((cell) => cell.trim()));
}

const unquote = (cell: string): string => cell.replace(/^`(.*)`$/, '$1');

describe('the error registry', () => {
  it('is frozen, and answers INTERNAL_SERVER_ERROR for a code it does not know', () => {
    expect(Object.isFrozen(ERROR_CODES)).toBe(true);
    expect(Object.isFrozen(ERROR_CODES.POLICY_DENIED)).toBe(true);
    expect(errorInfo('NO_SUCH_CODE')).toBe(ERROR_CODES.INTERNAL_SERVER_ERROR);
    expect(errorInfo('RATE_LIMITED')).toEqual({ httpStatus: 429, cliExitCode: CLI_EXIT.REFUSED, meaning: expect.any(String), level: 'request' });
  });

  it('gives field-level codes 200 (partial data), request-level ones a refusal status, every code a documented exit code', () => {
    const exits = Object.values(CLI_EXIT) as number[];
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      expect([code, exits.includes(info.cliExitCode)]).toEqual([code, true]);
      if (info.level === 'field') expect([code, info.httpStatus]).toEqual([code, 200]);
      if (info.level === 'request') expect([code, info.httpStatus >= 400]).toEqual([code, true]);
      expect([code, info.meaning.length > 0 && !info.meaning.includes('|')]).toEqual([code, true]);
    }
  });

  it('holds every code constant of every module', () => {
    const constants = [HubErrorCode, StateErrorCode, AuditErrorCode, SealErrorCode].flatMap((list) => Object.entries(list));
    for (const [name, code] of constants) {
      expect(name).toBe(code);
      expect(Object.keys(ERROR_CODES)).toContain(code);
    }
  });

  it('holds the code of every coded error class, and every one is a HubError', () => {
    const errors: { code: string }[] = [
      new BadUserInputError('idNumber', 'is malformed'),
      new ConnectorUnavailableError('tax', 'down'),
      new ConnectorTimeoutError('tax', 10),
      new UpstreamInvalidResponseError('tax', 'garbage'),
      new ConnectorDefinitionError('bad id'),
      new PolicyDeniedError(['Person.name']),
      new PolicyConfigError(['x']),
      new SchemaClassificationError(['x']),
      new ConfigError('bad'),
      new StateError(StateErrorCode.STREAM_SEQUENCE_CONFLICT, 'x'),
      new RedisUnavailableError('GET'),
      new ReplayGuardUnavailableError(),
      new ReplayGuardFullError(),
      new RedisSettingsError('url', 'a redis:// URL'),
      new StreamSequenceConflictError(3),
      new AuditOptionsError('from', 'a number'),
      new AuditUnavailableError('DISK_FULL'),
      new UnauthenticatedError('EXPIRED', 'expired'),
      new SealError(SealErrorCode.ERR_JWK_INVALID, 'x'),
      new CliUsageError('x'),
    ];
    for (const error of errors) {
      expect([error.constructor.name, error instanceof HubError]).toEqual([error.constructor.name, true]);
      expect([error.constructor.name, Object.keys(ERROR_CODES).includes(error.code)]).toEqual([error.constructor.name, true]);
      expect((error as HubError).extensions.code).toBe(error.code);
    }
    // The client may not import the SDK (docs/architecture.md): its codes are in the registry all the same.
    for (const code of ['ERR_HUB_UNREACHABLE', 'ERR_HUB_RESPONSE_INVALID'] as const) expect(new DataRunClientError(code, 'x').code in ERROR_CODES).toBe(true);
  });

  it('keeps a cause as Error does', () => {
    const cause = new Error('ECONNREFUSED');
    expect(new RedisUnavailableError('GET', cause).cause).toBe(cause);
    expect(new ConfigError('bad').cause).toBeUndefined();
  });

  it('lets clients see request and field codes only', () => {
    expect(clientCode('POLICY_DENIED')).toBe('POLICY_DENIED');
    expect(clientCode('CONNECTOR_TIMEOUT')).toBe('CONNECTOR_TIMEOUT');
    expect(clientCode('REDIS_UNAVAILABLE')).toBe('INTERNAL_SERVER_ERROR');
    expect(clientCode('ERR_UNAUTHENTICATED')).toBe('INTERNAL_SERVER_ERROR');
    expect(clientCode('NO_SUCH_CODE')).toBe('INTERNAL_SERVER_ERROR');
  });
});

describe('README.md', () => {
  it('lists every request- and field-level code with the registry’s status, exit code and meaning', () => {
    const rows = table('error-codes').map(([code, status, exit, meaning]) => [unquote(code!), Number(status), Number(exit), meaning]);
    const expected = Object.entries(ERROR_CODES)
      .filter(([, info]) => info.level !== 'operator')
      .map(([code, info]) => [code, info.httpStatus, info.cliExitCode, info.meaning]);
    expect(rows).toEqual(expected);
  });

  it('lists every exit code of datarun with its meaning', () => {
    const rows = table('exit-codes').map(([exit, name, meaning]) => [Number(exit), unquote(name!), meaning]);
    expect(rows).toEqual(Object.entries(CLI_EXIT).map(([name, exit]) => [exit, name, CLI_EXIT_MEANING[exit]]));
  });
});

describe('the exit codes of datarun', () => {
  it.each([
    ['a complete reply', { status: 200, data: { a: 1 } }, CLI_EXIT.OK],
    ['partial data', { status: 200, data: { a: null, b: 1 }, errors: [{ extensions: { code: 'CONNECTOR_TIMEOUT' } }] }, CLI_EXIT.PARTIAL],
    ['a policy refusal', { status: 403, errors: [{ extensions: { code: 'POLICY_DENIED' } }] }, CLI_EXIT.REFUSED],
    ['an unauthenticated request', { status: 401, errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] }, CLI_EXIT.REFUSED],
    ['a rate limit', { status: 429, errors: [{ extensions: { code: 'RATE_LIMITED' } }] }, CLI_EXIT.REFUSED],
    ['an audit outage', { status: 503, errors: [{ extensions: { code: 'AUDIT_UNAVAILABLE' } }] }, CLI_EXIT.UNAVAILABLE],
    ['a deadline', { status: 504, errors: [{ extensions: { code: 'DEADLINE_EXCEEDED' } }] }, CLI_EXIT.UNAVAILABLE],
    ['a code whose status is not the reply’s, by the status', { status: 503, errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] }, CLI_EXIT.UNAVAILABLE],
    ['an unknown code, by the status', { status: 418, errors: [{ extensions: { code: 'TEAPOT' } }] }, CLI_EXIT.REFUSED],
    ['a bug', { status: 500, errors: [{ extensions: { code: 'INTERNAL_SERVER_ERROR' } }] }, CLI_EXIT.INTERNAL],
  ])('maps %s', (_what, reply, exit) => {
    expect(exitCodeOfReply(reply)).toBe(exit);
  });

  it('maps thrown errors: usage 2, a coded error by the registry, anything else 1', () => {
    expect(exitCodeOfError(new CommanderError(1, 'commander.unknownOption', 'unknown option'))).toBe(CLI_EXIT.USAGE);
    expect(exitCodeOfError(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'))).toBe(CLI_EXIT.OK);
    expect(exitCodeOfError(new CliUsageError('--as is required'))).toBe(CLI_EXIT.USAGE);
    expect(exitCodeOfError(Object.assign(new Error('no such file'), { code: 'ENOENT' }))).toBe(CLI_EXIT.USAGE);
    expect(exitCodeOfError(new AuditOptionsError('from', 'a number'))).toBe(CLI_EXIT.USAGE);
    expect(exitCodeOfError(new ConfigError('bad'))).toBe(CLI_EXIT.USAGE);
    expect(exitCodeOfError(new DataRunClientError('ERR_HUB_UNREACHABLE', 'cannot reach the hub'))).toBe(CLI_EXIT.UNAVAILABLE);
    expect(exitCodeOfError(new RedisUnavailableError('GET'))).toBe(CLI_EXIT.UNAVAILABLE);
    expect(exitCodeOfError(new TypeError('x'))).toBe(CLI_EXIT.INTERNAL);
  });
});
