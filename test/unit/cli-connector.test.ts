/** `datarun connector new`: the id's validation, and the files it writes (src/cli/connector.ts). */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'graphql';
import { connectorIdProblem, connectorNames, connectorTemplates, runConnectorNew } from '../../src/cli/connector';
import { sdlProblems } from '../../src/testing';

describe('datarun connector new', () => {
  let dir: string;
  const out = { text: '', write(text: string) { this.text += text; } };

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'datarun-connector-new-'));
    out.text = '';
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['tax', 'housing-fund', 'land-registry-2', 'a1'])('accepts the kebab-case id %j', (id) => {
    expect(connectorIdProblem(id)).toBeUndefined();
  });

  it.each([
    ['', /missing/],
    ['Housing', /kebab-case.*"Housing"/],
    ['housing_fund', /kebab-case.*"housing_fund"/],
    ['-fund', /kebab-case/],
    ['fund-', /kebab-case/],
    ['housing--fund', /kebab-case/],
    ['1fund', /kebab-case/],
    ['seal', /reserved/],
    ['a'.repeat(41), /at most 40/],
  ])('refuses the id %j, saying why', (id, problem) => {
    expect(connectorIdProblem(id)).toMatch(problem);
    expect(() => runConnectorNew({ id, cwd: dir, out })).toThrow(problem);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('names things after the id', () => {
    expect(connectorNames('housing-fund')).toEqual({ camel: 'housingFund', pascal: 'HousingFund', upper: 'HOUSING_FUND' });
    expect(connectorNames('tax')).toEqual({ camel: 'tax', pascal: 'Tax', upper: 'TAX' });
  });

  it('writes index.ts, schema.graphql, README.md and a conformance test into <dir>/<id>, importing only datarun/sdk and datarun/testing', () => {
    const written = runConnectorNew({ id: 'housing-fund', dir: 'departments-extra', title: 'Housing provident fund 住房公积金', cwd: dir, out });
    const folder = path.join(dir, 'departments-extra', 'housing-fund');
    expect(written.map((f) => path.relative(folder, f)).sort()).toEqual(['README.md', 'conformance.test.ts', 'index.ts', 'schema.graphql']);
    expect(out.text).toContain(folder);
    expect(out.text).toContain('DATARUN_CONNECTORS__HOUSING_FUND__BASE_URL');

    const index = readFileSync(path.join(folder, 'index.ts'), 'utf8');
    const test = readFileSync(path.join(folder, 'conformance.test.ts'), 'utf8');
    const importsOf = (text: string) => [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    expect(importsOf(index).sort()).toEqual(['datarun/sdk', 'node:path']);
    expect(importsOf(test).sort()).toEqual(['./index', 'datarun/testing']);
    for (const name of ['defineConnectorModule', 'defineConnector', 'createHttpUpstream', 'createBatchLoader', 'export const connectorModule', "'Housing provident fund 住房公积金'", 'z.strictObject', 'HousingFund: {']) {
      expect(index).toContain(name);
    }
    expect(test).toContain('describeConnectorConformance');
    expect(test).toContain('startScriptedHttpUpstream');

    const sdl = readFileSync(path.join(folder, 'schema.graphql'), 'utf8');
    expect(() => parse(sdl)).not.toThrow();
    expect(sdl).toContain('extend type Person');
    expect(sdl).toContain('seal: Seal @share(');
    expect(sdlProblems('housing-fund', sdl, ['HousingFund'])).toEqual([]);

    const readme = readFileSync(path.join(folder, 'README.md'), 'utf8');
    expect(readme).toContain('DATARUN_CONNECTORS__HOUSING_FUND__TIMEOUT_MS');
    expect(readme).toContain('connector-guide.md');
  });

  it('defaults the folder to ./connectors and the title to the id in words', () => {
    runConnectorNew({ id: 'land-registry', cwd: dir, out });
    const index = readFileSync(path.join(dir, 'connectors', 'land-registry', 'index.ts'), 'utf8');
    expect(index).toContain("title: 'Land registry'");
  });

  it('refuses an existing folder and leaves it as it was', () => {
    runConnectorNew({ id: 'housing-fund', cwd: dir, out });
    const file = path.join(dir, 'connectors', 'housing-fund', 'index.ts');
    writeFileSync(file, '// mine');
    expect(() => runConnectorNew({ id: 'housing-fund', cwd: dir, out })).toThrow(/connectors\/housing-fund already exists/);
    expect(readFileSync(file, 'utf8')).toBe('// mine');
  });

  it('refuses a --dir that is a file, and a title that names nothing', () => {
    writeFileSync(path.join(dir, 'plain'), '');
    expect(() => runConnectorNew({ id: 'housing-fund', dir: 'plain', cwd: dir, out })).toThrow(/--dir .*plain is not a directory/);
    expect(() => runConnectorNew({ id: 'housing-fund', title: ' x ', cwd: dir, out })).toThrow(/--title must name the department/);
    expect(() => runConnectorNew({ id: 'housing-fund', title: 'two\nlines', cwd: dir, out })).toThrow(/one line/);
  });

  it('writes the sealed type named after the id, with its seal field', () => {
    const files = connectorTemplates('tax-credit', 'Tax credit');
    expect(files['schema.graphql']).toContain('type TaxCredit {');
    expect(sdlProblems('tax-credit', files['schema.graphql']!, ['TaxCredit'])).toEqual([]);
  });
});
