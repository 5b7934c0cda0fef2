import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseDockerignore, DockerIgnore, keepBuildFiles, readDockerignore } from './dockerignore';

const m = (pattern: string, path: string) => new DockerIgnore([pattern]).excludes(path);

// Cases from moby/patternmatcher's TestMatches (single pattern, path, expected).
test('single patterns match as moby/patternmatcher does', () => {
  const cases: Array<[string, string, boolean]> = [
    ['**', 'file', true], ['**', 'file/', true], ['**/', 'file', true], ['**/', 'file/', true],
    ['**', '/', true], ['**/', '/', true], ['**', 'dir/file', true], ['**/', 'dir/file', true],
    ['**', 'dir/file/', true], ['**/', 'dir/file/', true], ['**/**', 'dir/file', true], ['**/**', 'dir/file/', true],
    ['dir/**', 'dir/file', true], ['dir/**', 'dir/file/', true], ['dir/**', 'dir/dir2/file', true], ['dir/**', 'dir/dir2/file/', true],
    ['**/dir', 'dir', true], ['**/dir', 'dir/file', true], ['**/dir2/*', 'dir/dir2/file', true], ['**/dir2/*', 'dir/dir2/file/', true],
    ['**/dir2/**', 'dir/dir2/dir3/file', true], ['**/dir2/**', 'dir/dir2/dir3/file/', true], ['**file', 'file', true],
    ['**file', 'dir/file', true], ['**/file', 'dir/file', true], ['**file', 'dir/dir/file', true], ['**/file', 'dir/dir/file', true],
    ['**/file*', 'dir/dir/file', true], ['**/file*', 'dir/dir/file.txt', true], ['**/file*txt', 'dir/dir/file.txt', true],
    ['**/file*.txt', 'dir/dir/file.txt', true], ['**/file*.txt*', 'dir/dir/file.txt', true], ['**/**/*.txt', 'dir/dir/file.txt', true],
    ['**/**/*.txt2', 'dir/dir/file.txt', false], ['**/*.txt', 'file.txt', true], ['**/**/*.txt', 'file.txt', true],
    ['a**/*.txt', 'a/file.txt', true], ['a**/*.txt', 'a/dir/file.txt', true], ['a**/*.txt', 'a/dir/dir/file.txt', true],
    ['a/*.txt', 'a/dir/file.txt', false], ['a/*.txt', 'a/file.txt', true], ['a/*.txt**', 'a/file.txt', true],
    ['a[b-d]e', 'ae', false], ['a[b-d]e', 'ace', true], ['a[b-d]e', 'aae', false], ['a[^b-d]e', 'aze', true],
    ['.*', '.foo', true], ['.*', 'foo', false], ['abc.def', 'abcdef', false], ['abc.def', 'abc.def', true],
    ['abc.def', 'abc/def', false], ['abc?def', 'abc/def', false], ['abc.def', 'abcZdef', false],
    ['**/foo/bar', 'foo/bar', true], ['**/foo/bar', 'dir/foo/bar', true], ['**/foo/bar', 'dir/dir2/foo/bar', true],
    ['abc/**', 'abc', false], ['abc/**', 'abc/def', true], ['abc/**', 'abc/def/ghi', true],
    ['**/.foo', '.foo', true], ['**/.foo', 'bar.foo', false], ['a(b)c/def', 'a(b)c/def', true], ['a.|)$(}+{bc', 'a.|)$(}+{bc', true],
    ['dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', true],
    ['abc\\*', 'abc*', true], ['abc\\*', 'abcd', false],
  ];
  for (const [p, f, want] of cases) assert.equal(m(p, f), want, `${p} vs ${f}`);
});

test('a pattern matching a parent directory excludes what is below it', () => {
  assert.equal(m('dir', 'dir/file'), true);
  assert.equal(m('dir/sub', 'dir/sub/deep/file'), true);
  assert.equal(m('*', 'dir/file'), true);
  assert.equal(m('di', 'dir/file'), false);
});

test('! exceptions: the last matching pattern wins (docker docs examples)', () => {
  const di = new DockerIgnore(['*.md', '!README*.md', 'README-secret.md']);
  assert.equal(di.excludes('CHANGES.md'), true);
  assert.equal(di.excludes('README.md'), false);
  assert.equal(di.excludes('README-secret.md'), true);
  const di2 = new DockerIgnore(['*.md', 'README-secret.md', '!README*.md']);
  assert.equal(di2.excludes('README-secret.md'), false);
  const di3 = new DockerIgnore(['logs', '!logs/keep.log']);
  assert.equal(di3.excludes('logs/a.log'), true);
  assert.equal(di3.excludes('logs/keep.log'), false);
  assert.equal(di3.hasExceptions, true);
  assert.throws(() => new DockerIgnore(['!']), { kind: 'InvalidArgument' } as object);
});

test('readDockerignore: comments, blanks, cleaning, leading slash, BOM, CRLF', () => {
  assert.deepEqual(readDockerignore('\uFEFF# comment\n\n  /abs/path/  \r\n!  keep\n./a/../b\n  # not a comment\ndir/\n'),
    ['abs/path', '!keep', 'b', '# not a comment', 'dir']);
  assert.deepEqual(readDockerignore('/\n'), ['/']);
});

test('<Dockerfile>.dockerignore wins over .dockerignore; the build files are kept', () => {
  const files: Record<string, string> = { '.dockerignore': 'a\n', 'sub/Dockerfile.dockerignore': 'b\n' };
  const read = (p: string) => files[p];
  assert.deepEqual(chooseDockerignore(read, 'sub/Dockerfile'), ['b']);
  assert.deepEqual(chooseDockerignore(read, 'Dockerfile'), ['a']);
  assert.deepEqual(chooseDockerignore(() => undefined, 'Dockerfile'), []);
  const kept = keepBuildFiles(['*', '!src'], 'Dockerfile');
  const di = new DockerIgnore(kept);
  assert.equal(di.excludes('Dockerfile'), false);
  assert.equal(di.excludes('.dockerignore'), false);
  assert.equal(di.excludes('other'), true);
  assert.deepEqual(keepBuildFiles(['x'], 'Dockerfile'), ['x']);
});
