import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cannotExec, cannotKill, cannotPause, cannotRemove, cannotStart, cannotUnpause, ContainerStatus, initialState, validName } from './container';

const all: ContainerStatus[] = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'];
const at = (status: ContainerStatus) => ({ ...initialState(), status });

test('state predicates: every status against every operation', () => {
  const table: Record<ContainerStatus, { start: boolean; pause: boolean; unpause: boolean; exec: boolean; kill: boolean; rm: boolean; rmForce: boolean }> = {
    created: { start: true, pause: false, unpause: false, exec: false, kill: false, rm: true, rmForce: true },
    running: { start: true, pause: true, unpause: false, exec: true, kill: true, rm: false, rmForce: true },
    paused: { start: false, pause: false, unpause: true, exec: false, kill: true, rm: false, rmForce: true },
    restarting: { start: true, pause: true, unpause: false, exec: true, kill: true, rm: false, rmForce: true },
    removing: { start: false, pause: false, unpause: false, exec: false, kill: false, rm: false, rmForce: false },
    exited: { start: true, pause: false, unpause: false, exec: false, kill: false, rm: true, rmForce: true },
    dead: { start: false, pause: false, unpause: false, exec: false, kill: false, rm: true, rmForce: true },
  };
  for (const s of all) {
    const want = table[s];
    assert.equal(cannotStart(at(s)) === undefined, want.start, `start from ${s}`);
    assert.equal(cannotPause(at(s), 'x') === undefined, want.pause, `pause from ${s}`);
    assert.equal(cannotUnpause(at(s), 'x') === undefined, want.unpause, `unpause from ${s}`);
    assert.equal(cannotExec(at(s), 'x') === undefined, want.exec, `exec from ${s}`);
    assert.equal(cannotKill(at(s), 'x') === undefined, want.kill, `kill from ${s}`);
    assert.equal(cannotRemove(at(s), 'x', false) === undefined, want.rm, `rm from ${s}`);
    assert.equal(cannotRemove(at(s), 'x', true) === undefined, want.rmForce, `rm -f from ${s}`);
  }
});

test('container names follow Docker', () => {
  for (const ok of ['web', '/web', 'a1', 'my_app.v2-x']) assert.ok(validName(ok), ok);
  for (const bad of ['', 'a', '-x', '_x', 'a/b', 'a b', 'ä1', '../x']) assert.ok(!validName(bad), bad);
});
