import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { planDockerfile, PlanError } from './plan';
import { globRegex, cleanRel } from './context';
import { copyFromPaths, parseDuration } from './builder';

const fails = (text: string, line: number, msg: RegExp, opts = {}) => {
  assert.throws(() => planDockerfile(text, opts), (e: unknown) => {
    assert.ok(e instanceof PlanError);
    assert.equal(e.kind, 'InvalidArgument');
    assert.equal(e.line, line);
    assert.match(e.message, msg);
    return true;
  });
};

describe('build plan', () => {
  test('stages, names, steps and meta args', () => {
    const p = planDockerfile('ARG V=1\nARG IMG\nFROM busybox:${V} AS Base\nENV A=b\nRUN echo hi\nFROM base\nCMD ["x"]\n');
    assert.deepEqual(p.metaArgs, [{ name: 'V', value: '1' }, { name: 'IMG', value: undefined }]);
    assert.equal(p.stages.length, 2);
    assert.equal(p.stages[0].name, 'base');
    assert.equal(p.stages[0].base, 'busybox:1');
    assert.deepEqual(p.stages[0].steps.map((s) => [s.kind, s.line]), [['env', 4], ['run', 5]]);
    assert.equal(p.stages[1].baseStage, 0);
    assert.deepEqual(p.order, [0, 1]);
  });
  test('build args override meta arg defaults in FROM', () => {
    assert.equal(planDockerfile('ARG V=1\nFROM busybox:$V\n', { buildArgs: { V: '2' } }).stages[0].base, 'busybox:2');
    // A build arg not declared before FROM does not apply there.
    assert.equal(planDockerfile('FROM busybox:${V:-x}\n', { buildArgs: { V: '2' } }).stages[0].base, 'busybox:x');
  });
  test('--target builds only the stages it needs, dependencies first', () => {
    const text = 'FROM busybox AS a\nFROM busybox AS b\nFROM busybox AS c\nCOPY --from=a /x /x\nFROM c AS d\nCOPY --from=1 /y /y\n';
    assert.deepEqual(planDockerfile(text).order, [0, 2, 1, 3]);
    assert.deepEqual(planDockerfile(text, { target: 'c' }).order, [0, 2]);
    assert.deepEqual(planDockerfile(text, { target: 'B' }).order, [1]);
    fails(text, 0, /target stage "zz" could not be found/, { target: 'zz' });
  });
  test('COPY --from a later stage index is an error; an image name is not a stage', () => {
    fails('FROM busybox\nFROM busybox\nCOPY --from=1 /x /x\n', 2, /refers to current or later build stage/);
    assert.deepEqual(planDockerfile('FROM busybox\nCOPY --from=alpine /x /x\n').order, [0]);
  });
  test('unknown instructions and bad flags fail with their line', () => {
    fails('FROM busybox\n\nFROB x\n', 3, /unknown instruction: FROB/);
    fails('FROM busybox\nCOPY --frm=a x y\n', 2, /COPY: unknown flag: --frm/);
    fails('FROM busybox\nENV --x=1 A=b\n', 2, /ENV: unknown flag: --x/);
    fails('FROM busybox\nRUN --mounts=type=cache,target=/x true\n', 2, /RUN: unknown flag: --mounts/);
  });
  test('structure errors', () => {
    fails('RUN x\n', 1, /no build stage in current context/);
    assert.throws(() => planDockerfile(''), /file with no instructions/);
    fails('FROM a b\n', 1, /FROM requires either one or three arguments/);
    fails('FROM a AS x\nFROM b AS X\n', 2, /duplicate stage name "x"/);
    fails('FROM a AS 1x\n', 1, /invalid name for build stage/);
    fails('FROM a\nCOPY x\n', 2, /COPY requires at least two arguments/);
    fails('FROM a\nSHELL sh -c\n', 2, /SHELL requires the arguments to be in JSON form/);
    fails('FROM a\nHEALTHCHECK FOO x\n', 2, /Unknown type "FOO" in HEALTHCHECK/);
    fails('FROM a\nONBUILD ONBUILD RUN x\n', 2, /Chaining ONBUILD/);
    fails('FROM a\nONBUILD FROM b\n', 2, /FROM isn't allowed as an ONBUILD trigger/);
  });
  test('flags are split into name and value', () => {
    const s = planDockerfile('FROM a\nCOPY --chown=1:2 --chmod=644 --link x y\n').stages[0].steps[0];
    assert.deepEqual(s.flags, { chown: '1:2', chmod: '644', link: 'true' });
  });
  test('flags typed as BuildKit\'s BFlags: repeatable lists, bools, duplicates, missing values', () => {
    const r = planDockerfile('FROM a\nRUN --mount=type=cache,target=/a --network=none --mount=type=tmpfs,target=/b true\n').stages[0].steps[0];
    assert.deepEqual(r.lists, { mount: ['type=cache,target=/a', 'type=tmpfs,target=/b'] });
    assert.deepEqual(r.flags, { network: 'none' });
    const c = planDockerfile('FROM a\nCOPY --link=false --exclude=*.md --exclude=x --parents a b\n').stages[0].steps[0];
    assert.deepEqual(c.flags, { link: 'false', parents: 'true' });
    assert.deepEqual(c.lists, { exclude: ['*.md', 'x'] });
    fails('FROM a\nCOPY --from=x --from=y a b\n', 2, /duplicate flag specified: --from/);
    fails('FROM a\nCOPY --link=maybe a b\n', 2, /expecting boolean value for flag --link, not: maybe/);
    fails('FROM a\nCOPY --link= a b\n', 2, /missing a value on flag: --link/);
    fails('FROM a\nRUN --mount true\n', 2, /missing a value on flag: --mount/);
    fails('FROM a\nRUN --mnt=x true\n', 2, /unknown flag: --mnt/);
    fails('FROM a\nRUN --network=bridge true\n', 2, /unsupported network mode "bridge"/);
  });
  test('RUN --mount values are checked at plan time when they hold no variables', () => {
    fails('FROM a\nRUN --mount=type=cahce,target=/x true\n', 2, /unsupported mount type "cahce" \(did you mean cache\?\)/);
    fails('FROM a\nRUN --mount=from=$S,target=/x true\n', 2, /'from' doesn't support variable expansion/);
    // With a variable, the value is checked when the step runs (the stage's environment is known then).
    planDockerfile('FROM a\nRUN --mount=type=$T,target=/x true\n');
  });
  test('a RUN --mount from= stage is a dependency of the target', () => {
    const text = 'FROM busybox AS a\nFROM busybox AS b\nFROM busybox\nRUN --mount=type=bind,from=b,target=/b --mount=type=cache,from=a,target=/c true\n';
    assert.deepEqual(planDockerfile(text).order, [1, 0, 2]);
    assert.deepEqual(planDockerfile('FROM busybox AS a\nFROM busybox AS b\nFROM busybox\nRUN --mount=from=b,target=/b true\n').order, [1, 2]);
  });
});

describe('build context helpers', () => {
  test('cleanRel keeps paths inside the context', () => {
    assert.equal(cleanRel('./a/b/'), 'a/b');
    assert.equal(cleanRel('.'), '');
    assert.equal(cleanRel('a/../b'), 'b');
    assert.equal(cleanRel('../x'), undefined);
    assert.equal(cleanRel('a/../../x'), undefined);
    assert.equal(cleanRel('/etc/passwd'), undefined);
  });
  test('globs match within one path segment', () => {
    assert.ok(globRegex('*.txt').test('a.txt'));
    assert.ok(!globRegex('*.txt').test('d/a.txt'));
    assert.ok(globRegex('d/?.t[x-z]t').test('d/a.txt'));
    assert.ok(!globRegex('a.txt').test('aatxt'));
  });
  test('COPY --from reads each source up to its first glob, --parents sources without the pivot mark', () => {
    assert.deepEqual(copyFromPaths(['data', 'big.sha', 'count'], false), ['data', 'big.sha', 'count']);
    assert.deepEqual(copyFromPaths(['usr/lib/*.so', 'etc/[ab]*/x'], false), ['usr/lib', 'etc']);
    assert.deepEqual(copyFromPaths(['.', 'x/../y'], false), ['', 'y']);
    assert.deepEqual(copyFromPaths(['src/./a/*.go', './x'], true), ['src/a', 'x']);
    assert.deepEqual(copyFromPaths(['*'], false), ['']);
  });
  test('Go durations', () => {
    assert.equal(parseDuration('30s', 'interval'), 30e9);
    assert.equal(parseDuration('1m30s', 'interval'), 90e9);
    assert.equal(parseDuration('500ms', 'timeout'), 500e6);
    assert.throws(() => parseDuration('5', 'timeout'), /invalid duration/);
  });
});

test('a COPY --from cycle is a plan error (before any step); a later stage by name is a dependency', () => {
  assert.throws(() => planDockerfile('FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\nCOPY --from=a /y /y\n'), /circular dependency detected on stage: [ab]/);
  assert.throws(() => planDockerfile('FROM busybox AS a\nCOPY --from=a /x /x\n'), /circular dependency detected on stage: a/);
  assert.deepEqual(planDockerfile('FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\n', { target: 'a' }).order, [1, 0]);
});
