import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mapRuntimeError, startFailureExitCode } from './errors';

test('mapRuntimeError: a missing command is InvalidArgument (exit 127); a cgroup file crun could not write is Internal', () => {
  const missing = mapRuntimeError('create', 'abc', '{"msg":"executable file `nope` not found in $PATH: No such file or directory","level":"error"}');
  assert.equal(missing.kind, 'InvalidArgument');
  assert.equal(startFailureExitCode(missing), 127);
  // crun 1.8 on cgroup v1 without CFQ (regression: reported as "exec: sh: executable file not found").
  const knob = mapRuntimeError('create', 'abc', 'opening file `blkio.weight` for writing: No such file or directory');
  assert.equal(knob.kind, 'Internal');
  assert.equal(startFailureExitCode(knob), undefined);
  assert.match(knob.message, /blkio\.weight/);
  assert.equal(mapRuntimeError('kill', 'abc', 'container `abc` does not exist').kind, 'NotFound');
  assert.equal(mapRuntimeError('pause', 'abc', 'container not running').kind, 'FailedPrecondition');
});
