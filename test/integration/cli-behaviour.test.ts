/**
 * The datarun command as a shell user meets it: `--version`, output into a pipe its reader
 * closes early (`datarun … | head`), and exit codes from the error registry.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { errorInfo } from '../../src/sdk';

const root = path.resolve(__dirname, '../..');
const REGISTER = path.join(root, 'test/fixtures/audit/register-ts.js');
const MAIN = path.join(root, 'src/cli/main.ts');

/** Runs the CLI from its sources; `closeStdout` closes the pipe's reading end at once, as `| head -c0` would. */
function datarun(args: string[], options: { closeStdout?: boolean } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', REGISTER, MAIN, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DATARUN_CONFIG: '' } });
    let stdout = '';
    let stderr = '';
    if (options.closeStdout) child.stdout.destroy();
    else child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the datarun command', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'datarun-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints its version', async () => {
    const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    const result = await datarun(['--version']);
    expect(result).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  it('finishes quietly, with its own exit code, when the reader of its output stops early', async () => {
    // keys init writes a line per key it creates and then the whole list: far more than nothing.
    const result = await datarun(['keys', 'init', '--dir', path.join(dir, 'keys')], { closeStdout: true });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // The command did its work all the same.
    expect(JSON.parse(readFileSync(path.join(dir, 'keys', 'trust.json'), 'utf8')).owners.length).toBeGreaterThan(5);
  });

  it('exits with the registry\'s code of the error, naming the problem', async () => {
    const result = await datarun(['audit', 'export', '--dir', path.join(dir, 'none'), '--subject', 'PERSON:12345', '--out', path.join(dir, 'x.csv')]);
    expect(result.code).toBe(errorInfo('AUDIT_OPTIONS_INVALID').cliExitCode);
    expect(result.stderr).toContain('Audit option "subject" must be a valid citizen identity number');
  });
});
