import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKOFF_INITIAL_MS, BACKOFF_MAX_MS, nextBackoff, restartOnBoot, restartPolicyError, shouldRestart } from './restart-policy';

const policies = [undefined, { Name: '' }, { Name: 'no' }, { Name: 'always' }, { Name: 'unless-stopped' }, { Name: 'on-failure' }, { Name: 'on-failure', MaximumRetryCount: 2 }];

describe('restart policy decisions', () => {
  test('shouldRestart: the whole table', () => {
    for (const p of policies) {
      for (const exitCode of [0, 1, 137]) {
        for (const manuallyStopped of [false, true]) {
          for (const restartCount of [0, 1, 2, 5]) {
            const got = shouldRestart(p, { exitCode, manuallyStopped, restartCount });
            const name = p?.Name || 'no';
            const max = p?.MaximumRetryCount ?? 0;
            const want = !manuallyStopped && (
              name === 'always' || name === 'unless-stopped' ||
              (name === 'on-failure' && exitCode !== 0 && (max === 0 || restartCount < max)));
            assert.equal(got, want, `${JSON.stringify(p)} exit=${exitCode} stopped=${manuallyStopped} count=${restartCount}`);
          }
        }
      }
    }
  });

  test('on-failure:2 restarts exactly twice', () => {
    let count = 0;
    while (shouldRestart({ Name: 'on-failure', MaximumRetryCount: 2 }, { exitCode: 1, manuallyStopped: false, restartCount: count })) count++;
    assert.equal(count, 2);
  });

  test('restartOnBoot: always even after a user stop; unless-stopped and on-failure only for runs that ended while away', () => {
    const base = { exitCode: 0, manuallyStopped: false, restartCount: 0, startedBefore: true, endedWhileAway: false };
    assert.equal(restartOnBoot({ Name: 'always' }, { ...base, manuallyStopped: true }), true);
    assert.equal(restartOnBoot({ Name: 'always' }, { ...base, startedBefore: false }), false);
    assert.equal(restartOnBoot({ Name: 'unless-stopped' }, { ...base, manuallyStopped: true, endedWhileAway: true }), false);
    assert.equal(restartOnBoot({ Name: 'unless-stopped' }, { ...base, endedWhileAway: true }), true);
    assert.equal(restartOnBoot({ Name: 'unless-stopped' }, base), false);
    assert.equal(restartOnBoot({ Name: 'on-failure' }, { ...base, endedWhileAway: true }), false);
    assert.equal(restartOnBoot({ Name: 'on-failure' }, { ...base, exitCode: 2, endedWhileAway: true }), true);
    assert.equal(restartOnBoot({ Name: 'on-failure', MaximumRetryCount: 1 }, { ...base, exitCode: 2, restartCount: 1, endedWhileAway: true }), false);
    assert.equal(restartOnBoot({ Name: 'no' }, { ...base, exitCode: 2, endedWhileAway: true }), false);
    assert.equal(restartOnBoot(undefined, { ...base, endedWhileAway: true }), false);
  });

  test('back-off: 100 ms doubling, capped at a minute, reset after 10 s of running', () => {
    let d = 0;
    const seen: number[] = [];
    for (let i = 0; i < 12; i++) { d = nextBackoff(d, 50); seen.push(d); }
    assert.deepEqual(seen.slice(0, 5), [100, 200, 400, 800, 1600]);
    assert.equal(seen.at(-1), BACKOFF_MAX_MS);
    assert.equal(nextBackoff(BACKOFF_MAX_MS, 9_999), BACKOFF_MAX_MS);
    assert.equal(nextBackoff(BACKOFF_MAX_MS, 10_000), BACKOFF_INITIAL_MS);
    assert.equal(nextBackoff(0, 60_000), BACKOFF_INITIAL_MS);
  });

  test('validation', () => {
    assert.equal(restartPolicyError(undefined, false), undefined);
    assert.equal(restartPolicyError({ Name: 'on-failure', MaximumRetryCount: 3 }, false), undefined);
    assert.match(restartPolicyError({ Name: 'sometimes' }, false) ?? '', /invalid restart policy 'sometimes'/);
    assert.match(restartPolicyError({ Name: 'always', MaximumRetryCount: 3 }, false) ?? '', /only be used with 'on-failure'/);
    assert.match(restartPolicyError({ Name: 'on-failure', MaximumRetryCount: -1 }, false) ?? '', /negative/);
    assert.match(restartPolicyError({ Name: 'always' }, true) ?? '', /AutoRemove/);
    assert.equal(restartPolicyError({ Name: 'no' }, true), undefined);
  });
});
