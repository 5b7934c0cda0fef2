// BuildKit's own parser cases (../shared/conformance/dockerfile-parser, see its README): every
// testfiles/*/Dockerfile must dump exactly to its `result`, every testfiles-negative/*/Dockerfile
// must be rejected. Run twice: in process (fast, precise failures) and through the real
// `bin/berth build --print-ast`, each Dockerfile copied alone into a temp dir.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from './parser';
import { dump } from './dump';

const repo = join(__dirname, '..', '..', '..');
const suite = process.env.BERTH_DOCKERFILE_CONFORMANCE ?? join(repo, '..', 'shared', 'conformance', 'dockerfile-parser');
const present = existsSync(join(suite, 'testfiles')) && existsSync(join(suite, 'testfiles-negative'));
const cases = (dir: string) => (present ? readdirSync(join(suite, dir)).filter((d) => existsSync(join(suite, dir, d, 'Dockerfile'))).sort() : []);
const positive = cases('testfiles');
const negative = cases('testfiles-negative');

if (!present) {
  test('dockerfile parser conformance', { skip: `conformance data not found at ${suite}` }, () => {});
} else {
  describe('dockerfile parser conformance, in process', () => {
    for (const name of positive) {
      test(name, () => {
        const want = readFileSync(join(suite, 'testfiles', name, 'result'), 'utf8');
        assert.equal(dump(parse(readFileSync(join(suite, 'testfiles', name, 'Dockerfile')))), want);
      });
    }
    for (const name of negative) {
      test(`${name} is rejected`, () => {
        assert.throws(() => parse(readFileSync(join(suite, 'testfiles-negative', name, 'Dockerfile'))), { kind: 'InvalidArgument' });
      });
    }
  });

  describe('dockerfile parser conformance, bin/berth build --print-ast', () => {
    let dir = '';
    before(() => {
      execFileSync(process.execPath, [join(repo, 'scripts', 'build.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
      dir = mkdtempSync(join(tmpdir(), 'berth-conformance-'));
    });
    after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

    const printAst = (kind: string, name: string) => {
      // each Dockerfile alone in a directory of its own, so nothing can read the expected answer
      const own = join(dir, kind, name);
      mkdirSync(own, { recursive: true });
      copyFileSync(join(suite, kind, name, 'Dockerfile'), join(own, 'Dockerfile'));
      return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(join(repo, 'bin', 'berth'), ['build', '--print-ast', join(own, 'Dockerfile')], { encoding: 'utf8' }, (err, stdout, stderr) => {
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
        });
      });
    };

    test('every case', async () => {
      const results = await Promise.all([
        ...positive.map(async (name) => {
          const r = await printAst('testfiles', name);
          const want = readFileSync(join(suite, 'testfiles', name, 'result'), 'utf8');
          return r.code === 0 && r.stdout === want ? null : `${name}: exit ${r.code}, stderr ${r.stderr}\n${r.stdout}`;
        }),
        ...negative.map(async (name) => {
          const r = await printAst('testfiles-negative', name);
          if (r.code === 0) return `${name}: accepted, printed ${r.stdout}`;
          return /line \d+/.test(r.stderr) ? null : `${name}: no line number in ${r.stderr}`;
        }),
      ]);
      assert.deepEqual(results.filter((r) => r !== null), []);
      assert.ok(positive.length + negative.length > 0);
    });
  });
}
