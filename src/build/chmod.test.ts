import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChmod } from './chmod';

describe('--chmod', () => {
  test('octal modes up to 07777, with BuildKit\'s error beyond', () => {
    assert.equal(parseChmod('755')(0o644, false), 0o755);
    assert.equal(parseChmod('0640')(0o777, true), 0o640);
    assert.equal(parseChmod('4755')(0, false), 0o4755);
    assert.equal(parseChmod('0')(0o777, false), 0);
    for (const bad of ['10000', '789', '8', 'u+q', 'z=r', 'u+x,,']) {
      assert.throws(() => parseChmod(bad), /invalid chmod parameter: '.*'\. it should be octal string and between 0 and 07777/, bad);
    }
  });
  test('symbolic modes as chmod(1)', () => {
    assert.equal(parseChmod('u+x')(0o644, false), 0o744);
    assert.equal(parseChmod('go-w')(0o666, false), 0o644);
    assert.equal(parseChmod('a=r')(0o777, false), 0o444);
    assert.equal(parseChmod('=rw')(0o700, false), 0o666);
    assert.equal(parseChmod('u=rwx,g=rx,o=')(0o000, false), 0o750);
    assert.equal(parseChmod('a+X')(0o644, false), 0o644);
    assert.equal(parseChmod('a+X')(0o644, true), 0o755);
    assert.equal(parseChmod('a+X')(0o744, false), 0o755);
    assert.equal(parseChmod('u+s,g+s,+t')(0o755, false), 0o7755);
    assert.equal(parseChmod('g=u')(0o750, false), 0o770);
    assert.equal(parseChmod('u=r-w+x')(0o600, false), 0o500);
  });
});
