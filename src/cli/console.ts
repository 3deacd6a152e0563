/**
 * `datarun console login`: signs a one-time console sign-in token with a consumer's registered
 * request key (its private JWK file) and prints the sign-in URL (the token rides in the URL's
 * fragment, which the browser never sends to a server or a log) and the code to paste instead.
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { DEFAULT_CONSOLE_LOGIN_LIFETIME_SEC, signConsoleLogin, type PrivateJwk } from '../seal';

/** Arguments of `datarun console login`. */
export interface ConsoleLoginCommandOptions {
  consumer: string;
  /** The consumer's private request key (JWK file). */
  key: string;
  /** The hub's base URL. */
  hub: string;
  /** 经办人: the person signing in. @default the OS user name */
  operator?: string;
  /** 办件编号: the audit case the session serves. */
  case?: string;
  /** The hub's id (the token's audience). */
  audience?: string;
  lifetimeSec?: number;
  out?: { write(text: string): void };
}

/** The sign-in URL for a token: the console page reads it from the fragment and exchanges it at /console/session. */
export function consoleLoginUrl(hub: string, token: string): string {
  return `${hub.replace(/\/+$/, '')}/console/#login=${token}`;
}

export function runConsoleLogin(options: ConsoleLoginCommandOptions): { token: string; url: string } {
  let jwk: PrivateJwk;
  try {
    jwk = JSON.parse(readFileSync(options.key, 'utf8')) as PrivateJwk;
  } catch (error) {
    throw new Error(`cannot read the private key file ${options.key}: ${(error as Error).message}`);
  }
  const operator = options.operator ?? userInfo().username;
  const token = signConsoleLogin({
    consumerId: options.consumer,
    privateJwk: jwk,
    operator,
    ...(options.case ? { caseNumber: options.case } : {}),
    ...(options.audience ? { audience: options.audience } : {}),
    lifetimeSec: options.lifetimeSec ?? DEFAULT_CONSOLE_LOGIN_LIFETIME_SEC,
  });
  const url = consoleLoginUrl(options.hub, token);
  const out = options.out ?? process.stdout;
  out.write(`Open within ${options.lifetimeSec ?? DEFAULT_CONSOLE_LOGIN_LIFETIME_SEC} s, once (sign-in as ${options.consumer}, operator ${operator}):\n${url}\n`);
  out.write(`or paste this sign-in code on ${options.hub.replace(/\/+$/, '')}/console/ :\n${token}\n`);
  return { token, url };
}
