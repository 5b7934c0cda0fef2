import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BERTH } from './harness';

// bin/berth starts node without NODE_EXTRA_CA_CERTS (node parses the whole bundle at startup, tens
// of ms per command; the CLI makes no TLS connections). Node warns on stderr when it reads a bundle
// it cannot load, so a path that does not exist shows whether node read the variable at all.
test('bin/berth starts node without NODE_EXTRA_CA_CERTS, through sh and through node', () => {
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: '/nonexistent/berth-ca.pem' };
  const viaSh = spawnSync(BERTH, ['--version'], { env, encoding: 'utf8' });
  assert.equal(viaSh.status, 0, viaSh.stderr);
  assert.match(viaSh.stdout, /^Berth version /);
  assert.equal(viaSh.stderr, '');
  // `node bin/berth` (as bench/registry.sh runs it) still works; node reads the bundle then.
  const viaNode = spawnSync(process.execPath, [BERTH, '--version'], { env, encoding: 'utf8' });
  assert.equal(viaNode.status, 0, viaNode.stderr);
  assert.match(viaNode.stdout, /^Berth version /);
  assert.match(viaNode.stderr, /extra certs/i);
});

// The parse-tree dump needs no daemon, and global flags before `build` do not get in its way.
test('berth build --print-ast prints BuildKit\'s dump, also after global flags; a parse error exits non-zero', () => {
  const dir = mkdtempSync('/tmp/berth-print-ast-');
  try {
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox AS base\nRUN --mount=type=cache,target=/c echo "$HOME"\n');
    for (const pre of [[], ['-H', 'unix:///nonexistent/berth.sock', '--log-level', 'error']]) {
      const r = spawnSync(BERTH, [...pre, 'build', '--print-ast', join(dir, 'Dockerfile')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, '(from "busybox" "AS" "base")\n(run ["--mount=type=cache,target=/c"] "echo \\"$HOME\\"")\n');
    }
    writeFileSync(join(dir, 'Bad'), 'FROM busybox\nRUN <<EOF\necho never closed\n');
    const bad = spawnSync(BERTH, ['build', '--print-ast', join(dir, 'Bad')], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.notEqual(bad.stderr, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// cobra names a command by its first name under the group it was typed in (`image list` is
// `image ls`, `volume remove` is `volume rm`), in usage lines and in argument errors alike.
test('usage lines and argument errors name the command as docker does, whatever alias was typed', () => {
  const both = (args: string[]) => {
    const b = spawnSync(BERTH, args, { encoding: 'utf8' }), k = spawnSync('docker', args, { encoding: 'utf8' });
    assert.equal(`${b.stdout}${b.stderr}`.split('\n').slice(0, 3).join('\n'), `${k.stdout}${k.stderr}`.split('\n').slice(0, 3).join('\n').replace(/\bdocker\b/g, 'berth'), args.join(' '));
  };
  for (const c of ['image ls', 'image list', 'images', 'container ls', 'container list', 'ps', 'image rm', 'image remove', 'volume remove', 'container update', 'system df']) {
    both([...c.split(' '), '--help']);
  }
  both(['volume', 'remove']);
  both(['image', 'list', 'a', 'b']);
});
