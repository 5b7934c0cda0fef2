import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKind } from '../base/errors';
import { checkContainerConfig, checkExecConfig } from './request-shapes';

const invalid = (e: unknown) => isKind(e, 'InvalidArgument');

describe('checkContainerConfig', () => {
  it('accepts a well-typed body, nulls and unknown fields', () => {
    checkContainerConfig({ Image: 'busybox', Cmd: ['sh'], Env: ['A=1'], Labels: { a: 'b' }, Tty: true, StopTimeout: 3,
      Entrypoint: null, HostConfig: { Binds: ['/a:/b'], Privileged: false, Tmpfs: { '/t': '' }, RestartPolicy: { Name: 'no' } }, Future: 1 });
  });

  it("turns a single-string Cmd or Entrypoint into a list (Docker's StrSlice)", () => {
    const body: Record<string, unknown> = { Image: 'busybox', Cmd: 'echo hi', Entrypoint: 'sh' };
    checkContainerConfig(body);
    assert.deepEqual(body.Cmd, ['echo hi']);
    assert.deepEqual(body.Entrypoint, ['sh']);
  });

  it('refuses non-objects and fields of the wrong type with InvalidArgument', () => {
    for (const body of [[], 3, 'x', null]) assert.throws(() => checkContainerConfig(body), invalid);
    for (const bad of [{ Cmd: 3 }, { Cmd: [1] }, { Env: 'A=1' }, { Image: 42 }, { Labels: { a: 1 } }, { Tty: 'yes' },
      { HostConfig: 'x' }, { HostConfig: { Binds: 'x' } }, { HostConfig: { Privileged: 1 } }, { StopTimeout: 'soon' }]) {
      assert.throws(() => checkContainerConfig({ Image: 'busybox', ...bad }), invalid, JSON.stringify(bad));
    }
  });
});

describe('checkExecConfig', () => {
  it('checks exec bodies the same way', () => {
    checkExecConfig({ Cmd: ['true'], Env: [], Tty: false });
    assert.throws(() => checkExecConfig({ Cmd: 3 }), invalid);
    assert.throws(() => checkExecConfig([]), invalid);
    assert.throws(() => checkExecConfig({ Cmd: ['x'], AttachStdin: 'yes' }), invalid);
  });
});
