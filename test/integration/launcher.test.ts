import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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
