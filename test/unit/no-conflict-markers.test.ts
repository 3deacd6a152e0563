/**
 * No tracked text file carries the markers a merge leaves when it stops on a conflict: a README
 * with `<<<<<<<` in its command list once reached main unnoticed, since nothing reads Markdown.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

/** The lines of `text` that are conflict markers: `<<<<<<< `, `=======` alone, `>>>>>>> `, `||||||| ` at a line's start. */
function conflictMarkers(text: string): number[] {
  const lines: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (/^(<{7}|>{7}|\|{7})( |$)/.test(line) || /^={7}$/.test(line)) lines.push(i + 1);
  });
  return lines;
}

describe('no merge conflict markers in tracked files', () => {
  it('recognizes each kind of marker, and not a Markdown rule or a longer run', () => {
    expect(conflictMarkers('a\n<<<<<<< HEAD\nb\n=======\nc\n>>>>>>> topic\n')).toEqual([2, 4, 6]);
    expect(conflictMarkers('||||||| base\n')).toEqual([1]);
    expect(conflictMarkers('Title\n=====\n========\n<<<<<<<<\n`<<<<<<< HEAD`\n')).toEqual([]);
  });

  it('finds none in any tracked text file', () => {
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter((f) => f !== '' && /\.(ts|js|mjs|cjs|json|md|graphql|yml|yaml|sh|html|css|wsdl|xml|sql|txt)$/.test(f));
    expect(files.length).toBeGreaterThan(100);
    const found = files.flatMap((file) => {
      let text: string;
      try {
        text = readFileSync(path.join(root, file), 'utf8');
      } catch {
        return []; // listed but deleted in the work tree
      }
      return conflictMarkers(text).map((line) => `${file}:${line}`);
    });
    expect(found).toEqual([]);
  });
});
