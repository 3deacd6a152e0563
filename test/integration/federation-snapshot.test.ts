/**
 * `datarun federation snapshot <operator-url> [--out file]` over real sockets: a hub's operator
 * route `GET /federation/schema.graphql` (printed once, served as printed) fetched, checked to
 * parse as SDL and written whole; an unreachable URL, a non-200 answer and a body that is not SDL
 * each refused with a message naming the URL and its exit code, writing nothing. Also through
 * the `datarun` command itself in a child process.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exitCodeOfError } from '../../src/cli/exit';
import { runFederationSnapshot } from '../../src/cli/federation';
import { derivePeerSchema } from '../../src/gateway/federation/peer-schema';
import { CLI_EXIT } from '../../src/sdk';
import { startTestHub, type TestHub } from '../support/hub';

// Counts how often the hub prints its schema for the route (the real printer, watched).
jest.mock('@graphql-tools/utils', () => {
  const actual = jest.requireActual('@graphql-tools/utils');
  return { ...actual, printSchemaWithDirectives: jest.fn(actual.printSchemaWithDirectives) };
});
const printed = (require('@graphql-tools/utils') as { printSchemaWithDirectives: jest.Mock }).printSchemaWithDirectives;

const root = path.resolve(__dirname, '../..');
let hub: TestHub;
let dir: string;
let other: http.Server;
let otherUrl: string;
/** What the other server answers: a status and a body. */
let answer: { status: number; body: string } = { status: 200, body: '' };
/** A loopback URL nothing listens on. */
let closedUrl: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'datarun-snapshot-'));
  other = http.createServer((_req, res) => {
    res.writeHead(answer.status, { 'content-type': 'text/plain' });
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  hub = await startTestHub({ size: 50 });
}, 120_000);
afterAll(async () => {
  await hub?.close();
  other?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the snapshot, keeping what it reports; the error it threw, if any. */
async function snapshot(operatorUrl: string, out?: string): Promise<{ lines: string[]; stdout: string; error?: any }> {
  const lines: string[] = [];
  let stdout = '';
  try {
    await runFederationSnapshot({ operatorUrl, ...(out ? { out } : {}), report: (l) => lines.push(l), stdout: (t) => (stdout += t), timeoutMs: 20_000 });
    return { lines, stdout };
  } catch (error) {
    return { lines, stdout, error };
  }
}

/** Runs `datarun …` in a child process: its exit code and output. */
function datarun(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', path.join(root, 'test/fixtures/audit/register-ts.js'), path.join(root, 'src/cli/main.ts'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('datarun federation snapshot', () => {
  it('writes the hub\'s graph from its operator route, whole, as the route serves it (printed once)', async () => {
    const file = path.join(dir, 'peer.graphql');
    const taken = await snapshot(hub.operatorUrl, file);
    expect(taken.error).toBeUndefined();
    const sdl = readFileSync(file, 'utf8');
    expect(sdl).toContain('@share');
    expect(taken.lines).toEqual([expect.stringMatching(new RegExp(`^wrote ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the schema of ${hub.operatorUrl}/federation/schema\\.graphql, \\d+ types, ${Buffer.byteLength(sdl)} bytes, sha256 [0-9a-f]{64}$`))]);
    // A connector of type "hub" takes it as it is.
    expect(derivePeerSchema({ connector: 'peer', prefix: 'Peer', rootFields: ['person'], sdl }).rootFields.get('peerPerson')).toBe('person');

    // The route's own URL, to stdout; the same bytes, and the schema was printed once for all these requests.
    const again = await snapshot(`${hub.operatorUrl}/federation/schema.graphql`);
    expect(again.error).toBeUndefined();
    expect(again.stdout).toBe(sdl);
    expect(await (await fetch(`${hub.operatorUrl}/federation/schema.graphql`)).text()).toBe(sdl);
    expect(printed.mock.calls.length).toBe(1);
  });

  it('refuses an unreachable URL, an answer other than 200, and a body that is not SDL, naming the URL and writing nothing', async () => {
    const file = path.join(dir, 'refused.graphql');
    const unreachable = await snapshot(closedUrl, file);
    expect(unreachable.error).toMatchObject({ code: 'ERR_PEER_SCHEMA_UNAVAILABLE', message: `cannot reach ${closedUrl}/federation/schema.graphql: ECONNREFUSED` });
    expect(exitCodeOfError(unreachable.error)).toBe(CLI_EXIT.UNAVAILABLE);

    const notFound = await snapshot(`${hub.operatorUrl}/elsewhere`, file);
    expect(notFound.error).toMatchObject({ code: 'ERR_PEER_SCHEMA_UNAVAILABLE' });
    expect(notFound.error.message).toBe(`${hub.operatorUrl}/elsewhere/federation/schema.graphql answered HTTP 404, not 200 (is this the peer hub's operator listener?)`);

    answer = { status: 403, body: 'no' };
    expect((await snapshot(otherUrl, file)).error.message).toMatch(/answered HTTP 403, not 200 \(the operator route answers the operator listener/);

    answer = { status: 200, body: '<html><body>Welcome</body></html>' };
    const html = await snapshot(otherUrl, file);
    expect(html.error).toMatchObject({ code: 'ERR_PEER_SCHEMA_INVALID' });
    expect(html.error.message).toMatch(new RegExp(`^the body of ${otherUrl}/federation/schema\\.graphql is not a GraphQL schema \\(SDL\\): Syntax Error`));
    expect(exitCodeOfError(html.error)).toBe(CLI_EXIT.VERIFY_FAILED);

    answer = { status: 200, body: 'type Person { name: String }' };
    expect((await snapshot(otherUrl, file)).error.message).toContain('is not a GraphQL schema (SDL): it has no Query type');

    for (const bad of ['ftp://hub.example/', 'hub.example:9464']) {
      const refused = await snapshot(bad, file);
      expect(refused.error).toMatchObject({ code: 'CLI_USAGE' });
      expect(exitCodeOfError(refused.error)).toBe(CLI_EXIT.USAGE);
    }
    expect(existsSync(file)).toBe(false);
  });

  it('runs as `datarun federation snapshot`, listed in the help; exit 0 with the file written, 5 when the peer cannot be reached', async () => {
    const file = path.join(dir, 'cli.graphql');
    const [help, ok, down] = await Promise.all([datarun(['federation', '--help']), datarun(['federation', 'snapshot', hub.operatorUrl, '--out', file]), datarun(['federation', 'snapshot', closedUrl])]);
    expect(help.stdout).toMatch(/snapshot \[options\] <operator-url>/);
    expect(ok).toMatchObject({ code: 0, stdout: '' });
    expect(ok.stderr).toContain(`wrote ${file}: the schema of ${hub.operatorUrl}/federation/schema.graphql`);
    expect(readFileSync(file, 'utf8')).toContain('@share');
    expect(down.code).toBe(CLI_EXIT.UNAVAILABLE);
    expect(down.stderr).toBe(`datarun: cannot reach ${closedUrl}/federation/schema.graphql: ECONNREFUSED\n`);
  }, 120_000);
});
