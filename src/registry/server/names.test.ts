// Pure parts of the registry server: route parsing and name checks, manifest facts, error mapping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKind, notFound } from '../../base/errors';
import { registryError, toDistributionError } from './errors';
import { accepts, parseManifest } from './manifest';
import { isValidName, parseRoute } from './names';

test('names: the spec regex, no path tricks', () => {
  for (const ok of ['a', 'library/busybox', 'a.b/c_d/e__f/g-h--i', 'x0/1y']) assert.ok(isValidName(ok), ok);
  for (const bad of ['', 'A', 'a/../b', '..', 'a/.', 'a%2fb', 'a//b', '/a', 'a/', '_a', 'a_', 'a___b', 'a'.repeat(256)]) assert.ok(!isValidName(bad), bad);
});

test('routes: longest names, uploads before blobs, raw paths', () => {
  assert.deepEqual(parseRoute('/v2/'), { kind: 'base' });
  assert.deepEqual(parseRoute('/v2/a/b/blobs/uploads/'), { kind: 'uploads', name: 'a/b' });
  assert.deepEqual(parseRoute('/v2/a/b/blobs/uploads/123'), { kind: 'upload', name: 'a/b', id: '123' });
  assert.deepEqual(parseRoute('/v2/a/b/blobs/sha256:x'), { kind: 'blob', name: 'a/b', digest: 'sha256:x' });
  assert.deepEqual(parseRoute('/v2/a/manifests/latest'), { kind: 'manifest', name: 'a', reference: 'latest' });
  assert.deepEqual(parseRoute('/v2/a/tags/list'), { kind: 'tags', name: 'a' });
  assert.equal(parseRoute('/v3/a/tags/list'), undefined);
  assert.throws(() => parseRoute('/v2/a/../b/tags/list'), (e) => isKind(e, 'InvalidArgument') && toDistributionError(e).code === 'NAME_INVALID');
});

test('manifest facts: blobs, children, subject, artifactType', () => {
  const d = (c: string) => `sha256:${c.repeat(64)}`;
  const m = parseManifest('application/vnd.oci.image.manifest.v1+json', Buffer.from(JSON.stringify({
    schemaVersion: 2, config: { mediaType: 'application/vnd.example.config', digest: d('a'), size: 2 },
    layers: [{ mediaType: 'x', digest: d('b'), size: 1 }, { mediaType: 'x', digest: d('c'), size: 1, urls: ['http://elsewhere'] }],
    subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d('e'), size: 9 },
  })));
  assert.deepEqual(m.blobs, [d('a'), d('b')]);
  assert.equal(m.artifactType, 'application/vnd.example.config');
  assert.equal(m.subject?.digest, d('e'));
  assert.throws(() => parseManifest('text/plain', Buffer.from('{}')), (e) => toDistributionError(e).code === 'UNSUPPORTED');
  assert.ok(accepts(undefined, 'x'));
  assert.ok(accepts('application/a;q=0.5, x', 'x'));
  assert.ok(!accepts('application/a', 'x'));
});

test('error mapping: kinds and subjects to distribution codes and statuses', () => {
  const cases: [Parameters<typeof registryError>, number, string][] = [
    [['NotFound', 'blob', ''], 404, 'BLOB_UNKNOWN'],
    [['NotFound', 'upload', ''], 404, 'BLOB_UPLOAD_UNKNOWN'],
    [['NotFound', 'manifest', ''], 404, 'MANIFEST_UNKNOWN'],
    [['NotFound', 'name', ''], 404, 'NAME_UNKNOWN'],
    [['InvalidArgument', 'digest', ''], 400, 'DIGEST_INVALID'],
    [['InvalidArgument', 'name', ''], 400, 'NAME_INVALID'],
    [['InvalidArgument', 'manifest', ''], 400, 'MANIFEST_INVALID'],
    [['InvalidArgument', 'manifest-size', ''], 413, 'SIZE_INVALID'],
    [['InvalidArgument', 'size', ''], 400, 'SIZE_INVALID'],
    [['InvalidArgument', 'range', ''], 416, 'BLOB_UPLOAD_INVALID'],
    [['Conflict', 'range', ''], 416, 'BLOB_UPLOAD_INVALID'],
    [['FailedPrecondition', 'manifest', ''], 400, 'MANIFEST_BLOB_UNKNOWN'],
    [['NotImplemented', 'media-type', ''], 415, 'UNSUPPORTED'],
    [['NotImplemented', 'operation', ''], 405, 'UNSUPPORTED'],
    [['PermissionDenied', 'operation', ''], 403, 'DENIED'],
    [['Unauthenticated', 'operation', ''], 401, 'UNAUTHORIZED'],
    [['Unavailable', 'operation', ''], 429, 'TOOMANYREQUESTS'],
  ];
  for (const [args, status, code] of cases) {
    const e = toDistributionError(registryError(...args));
    assert.deepEqual([e.status, e.code], [status, code], args.join('/'));
  }
  assert.equal(toDistributionError(notFound('plain')).code, 'NAME_UNKNOWN');
  assert.equal(toDistributionError(new Error('boom')).status, 500);
});
