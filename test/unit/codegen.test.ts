import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const OUTPUT = 'src/sdk/generated/graphql.ts';

describe('generated resolver types', () => {
  it('are up to date with schema/ (run `npm run codegen` if this fails)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'datarun-codegen-'));
    try {
      // The project's own codegen.yml, writing to a scratch file instead of the committed one.
      const config = readFileSync(path.join(root, 'codegen.yml'), 'utf8');
      expect(config).toContain(`${OUTPUT}:`);
      const scratch = path.join(dir, 'graphql.ts');
      writeFileSync(path.join(dir, 'codegen.yml'), config.replace(`${OUTPUT}:`, `${JSON.stringify(scratch)}:`));
      execFileSync(process.execPath, [path.join(root, 'node_modules/@graphql-codegen/cli/cjs/bin.js'), '--config', path.join(dir, 'codegen.yml'), '--silent'], { cwd: root, stdio: 'pipe' });
      expect(readFileSync(scratch, 'utf8')).toBe(readFileSync(path.join(root, OUTPUT), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
