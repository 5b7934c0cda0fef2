import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKind } from '../base/errors';
import { familiarName, familiarString, fullString, parseReference, repositoryName, tryParseReference, withTag } from './reference';

const D = 'sha256:' + 'ab'.repeat(32);

test('normalises familiar names', () => {
  const cases: Array<[string, string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['index.docker.io/library/busybox:x', 'docker.io/library/busybox:x', 'busybox:x'],
    ['user/app', 'docker.io/user/app:latest', 'user/app:latest'],
    ['library/a/b', 'docker.io/library/a/b:latest', 'library/a/b:latest'],
    ['localhost/app', 'localhost/app:latest', 'localhost/app:latest'],
    ['localhost:5000/app:v1', 'localhost:5000/app:v1', 'localhost:5000/app:v1'],
    ['127.0.0.1:5000/x/y:1', '127.0.0.1:5000/x/y:1', '127.0.0.1:5000/x/y:1'],
    ['quay.io/a/b.c_d__e---f:T_a.g-1', 'quay.io/a/b.c_d__e---f:T_a.g-1', 'quay.io/a/b.c_d__e---f:T_a.g-1'],
    ['[::1]:5000/app', '[::1]:5000/app:latest', '[::1]:5000/app:latest'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`, `busybox@${D}`],
    [`busybox:1@${D}`, `docker.io/library/busybox:1@${D}`, `busybox:1@${D}`],
    ['Registry.Example.com/app', 'Registry.Example.com/app:latest', 'Registry.Example.com/app:latest'],
  ];
  for (const [input, full, familiar] of cases) {
    const ref = parseReference(input);
    assert.equal(fullString(ref), full, input);
    assert.equal(familiarString(ref), familiar, input);
  }
});

test('fields and helpers', () => {
  const ref = parseReference('busybox');
  assert.deepEqual(ref, { domain: 'docker.io', path: 'library/busybox', tag: 'latest' });
  assert.equal(repositoryName(ref), 'docker.io/library/busybox');
  assert.equal(familiarName(ref), 'busybox');
  assert.deepEqual(parseReference('busybox', { defaultTag: false }), { domain: 'docker.io', path: 'library/busybox' });
  assert.equal(familiarString(withTag(parseReference(`a@${D}`), 'v2')), 'a:v2');
  assert.throws(() => withTag(ref, '-bad'), (e) => isKind(e, 'InvalidArgument'));
});

test('rejects invalid references with InvalidArgument', () => {
  const bad = [
    '', ':', 'a:', ':latest', 'Busybox', 'user/App', 'a/b:', 'a b', 'a//b', 'a/', '/a', 'a:-tag', 'a:.tag',
    'a:' + 'x'.repeat(129), 'a@sha256:abc', `a@md5:${'a'.repeat(64)}`, 'a@', 'a__-b', 'a..b', '-a', 'a-', 'a_',
    'ab'.repeat(32), 'x/' + 'a'.repeat(255), 'a:b:c', 'a@' + D + ':tag', 'localhost:port/a', 'a$b',
  ];
  for (const s of bad) {
    assert.throws(() => parseReference(s), (e) => isKind(e, 'InvalidArgument'), JSON.stringify(s));
    assert.equal(tryParseReference(s), undefined);
  }
});

test('uppercase repository gives Docker\'s lowercase message', () => {
  assert.throws(() => parseReference('Busybox'), (e: Error) =>
    isKind(e, 'InvalidArgument') && e.message === 'invalid reference format: repository name (library/Busybox) must be lowercase');
  assert.throws(() => parseReference('a b'), (e: Error) => e.message === 'invalid reference format');
});

test('tags accept the full grammar', () => {
  assert.equal(parseReference('a:' + 'x'.repeat(128)).tag, 'x'.repeat(128));
  assert.equal(parseReference('a:_x').tag, '_x');
  assert.equal(parseReference('a:X.Y-z').tag, 'X.Y-z');
});
