import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { isKind } from '../../base/errors';
import { candidates, checkAddress, DOCKER_PLUGIN_DIRS, findPlugin, parseSpec, pluginDirsFrom, validPluginName } from './discovery';

describe('volume plugin discovery', () => {
  test('candidates: sockets in every socket dir first, then per spec dir .spec before .json, flat before NAME/', () => {
    const got = candidates({ sockets: ['/s'], specs: ['/a', '/b'] }, 'p').map((c) => `${c.kind} ${c.path}`);
    assert.deepEqual(got, [
      'sock /s/p.sock', 'sock /s/p/p.sock',
      'spec /a/p.spec', 'spec /a/p/p.spec', 'json /a/p.json', 'json /a/p/p.json',
      'spec /b/p.spec', 'spec /b/p/p.spec', 'json /b/p.json', 'json /b/p/p.json',
    ]);
  });

  test('dockerd\'s directories by default; --plugin-dir dirs hold both kinds', () => {
    assert.deepEqual(pluginDirsFrom([]), DOCKER_PLUGIN_DIRS);
    assert.deepEqual(DOCKER_PLUGIN_DIRS, { sockets: ['/run/docker/plugins'], specs: ['/etc/docker/plugins', '/usr/lib/docker/plugins'] });
    assert.deepEqual(pluginDirsFrom(['/x', '/y']), { sockets: ['/x', '/y'], specs: ['/x', '/y'] });
  });

  test('names that could leave the plugin dirs are not plugin names', () => {
    for (const ok of ['p', 'my-plugin', 'a.b_c', 'P1']) assert.ok(validPluginName(ok), ok);
    for (const bad of ['', '../x', 'a/b', '..', '.hidden', 'a..b', 'vieux/sshfs:latest']) assert.ok(!validPluginName(bad), bad);
  });

  test('spec files: a URL in .spec, {Addr} in .json; unknown protocol, TLS and bad JSON refused', () => {
    assert.equal(parseSpec('spec', '  unix:///run/p.sock\n', 'f'), 'unix:///run/p.sock');
    assert.equal(parseSpec('spec', 'tcp://127.0.0.1:8080', 'f'), 'tcp://127.0.0.1:8080');
    assert.equal(parseSpec('json', '{"Name":"p","Addr":"http://localhost:9000"}', 'f'), 'http://localhost:9000');
    for (const [kind, text] of [
      ['spec', '/run/p.sock'], ['spec', 'localhost:8080'], ['spec', 'https://example.com:443'], ['spec', 'ftp://h:1'],
      ['spec', 'tcp://host'], ['spec', 'unix://relative.sock'], ['json', '{"Name":"p"}'], ['json', 'nope'],
      ['json', '{"Addr":"tcp://h:1","TLSConfig":{"CAFile":"/ca.pem"}}'],
    ] as const) {
      assert.throws(() => parseSpec(kind, text, 'f'), (e) => isKind(e, 'InvalidArgument'), `${kind} ${text}`);
    }
    checkAddress('tcp://[::1]:8080', 'f');
  });

  test('findPlugin: a socket wins over a spec file; spec then json; nothing is NotFound', async () => {
    const dir = mkdtempSync('/tmp/berth-discovery-');
    try {
      const dirs = pluginDirsFrom([dir]);
      assert.throws(() => findPlugin(dirs, 'p'), (e) => isKind(e, 'NotFound') && /plugin "p" not found/.test((e as Error).message));
      assert.throws(() => findPlugin(dirs, '../p'), (e) => isKind(e, 'NotFound'));
      mkdirSync(join(dir, 'p'));
      writeFileSync(join(dir, 'p', 'p.json'), '{"Addr":"tcp://127.0.0.1:2"}');
      assert.equal(findPlugin(dirs, 'p').addr, 'tcp://127.0.0.1:2');
      writeFileSync(join(dir, 'p.spec'), 'tcp://127.0.0.1:1\n');
      assert.equal(findPlugin(dirs, 'p').addr, 'tcp://127.0.0.1:1');
      // A regular file named like a socket is not a socket.
      writeFileSync(join(dir, 'p.sock'), '');
      assert.equal(findPlugin(dirs, 'p').addr, 'tcp://127.0.0.1:1');
      rmSync(join(dir, 'p.sock'));
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(join(dir, 'p', 'p.sock'), resolve));
      try {
        assert.equal(findPlugin(dirs, 'p').addr, `unix://${join(dir, 'p', 'p.sock')}`);
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
