import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHumanSize, goAtoi, goParseBool, logPolicyOf, mergeLogConfig, parseLogOptFlags } from './log-config';
import { BerthError } from '../base/errors';

const JSON_DEFAULT = { Type: 'json-file', Config: {} };

function refused(cfg: { Type: string; Config: Record<string, string> }): string {
  try {
    logPolicyOf(cfg);
  } catch (e) {
    assert.ok(e instanceof BerthError);
    assert.equal(e.kind, 'InvalidArgument');
    return e.message;
  }
  assert.fail(`accepted ${JSON.stringify(cfg)}`);
}

test('log config: merge takes the daemon driver and fills its options in only for the same driver', () => {
  const daemon = { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } };
  assert.deepEqual(mergeLogConfig({ Type: '', Config: {} }, daemon), { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } });
  assert.deepEqual(mergeLogConfig(undefined, daemon), { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } });
  assert.deepEqual(mergeLogConfig({ Config: { 'max-size': '5m' } }, daemon), { Type: 'json-file', Config: { 'max-size': '5m', 'max-file': '2' } });
  assert.deepEqual(mergeLogConfig({ Type: 'local', Config: { 'max-file': '3' } }, daemon), { Type: 'local', Config: { 'max-file': '3' } });
  assert.deepEqual(mergeLogConfig({ Type: 'none' }, daemon), { Type: 'none', Config: {} });
});

test('log config: json-file rotates by default (20m x 5); options as given', () => {
  assert.deepEqual(logPolicyOf(JSON_DEFAULT), { driver: 'json-file', maxSize: 20_000_000, maxFiles: 5, compress: false });
  assert.deepEqual(logPolicyOf({ Type: 'json-file', Config: { 'max-size': '10k', 'max-file': '3', compress: 'true' } }),
    { driver: 'json-file', maxSize: 10_000, maxFiles: 3, compress: true });
  // max-size alone keeps the default count (Docker would keep one file and drop it when full)
  assert.deepEqual(logPolicyOf({ Type: 'json-file', Config: { 'max-size': '1m' } }), { driver: 'json-file', maxSize: 1_000_000, maxFiles: 5, compress: false });
  assert.deepEqual(logPolicyOf({ Type: 'json-file', Config: { 'max-size': '-1' } }), { driver: 'json-file', maxSize: undefined, maxFiles: 1, compress: false });
  assert.deepEqual(logPolicyOf({ Type: 'json-file', Config: { 'max-file': '1', mode: 'non-blocking', 'max-buffer-size': '4m', tag: 'x', labels: 'a' } }),
    { driver: 'json-file', maxSize: 20_000_000, maxFiles: 1, compress: false });
});

test('log config: local has Docker\'s defaults (20 MiB x 5, compressed)', () => {
  assert.deepEqual(logPolicyOf({ Type: 'local', Config: {} }), { driver: 'local', maxSize: 20 * 1024 * 1024, maxFiles: 5, compress: true });
  assert.deepEqual(logPolicyOf({ Type: 'local', Config: { 'max-size': '1m', 'max-file': '2', compress: 'false' } }),
    { driver: 'local', maxSize: 1_000_000, maxFiles: 2, compress: false });
  assert.deepEqual(logPolicyOf({ Type: 'none', Config: {} }), { driver: 'none' });
});

test('log config: Docker\'s errors for unknown drivers, keys and bad values', () => {
  assert.equal(refused({ Type: 'json-file', Config: { foo: 'bar' } }), "unknown log opt 'foo' for json-file log driver");
  assert.equal(refused({ Type: 'local', Config: { foo: 'bar' } }), "unknown log opt 'foo' for log driver local");
  assert.equal(refused({ Type: 'syslog', Config: {} }), "logger: no log driver named 'syslog' is registered");
  assert.equal(refused({ Type: 'json-file', Config: { 'max-size': 'abc' } }), "failed to initialize logging driver: invalid size: 'abc'");
  assert.equal(refused({ Type: 'json-file', Config: { 'max-size': '0' } }), 'failed to initialize logging driver: max-size must be a positive number');
  assert.equal(refused({ Type: 'json-file', Config: { 'max-file': '0' } }), 'failed to initialize logging driver: max-file cannot be less than 1');
  assert.equal(refused({ Type: 'json-file', Config: { 'max-file': 'x' } }), 'failed to initialize logging driver: strconv.Atoi: parsing "x": invalid syntax');
  assert.equal(refused({ Type: 'json-file', Config: { compress: 'yes' } }), 'failed to initialize logging driver: strconv.ParseBool: parsing "yes": invalid syntax');
  assert.equal(refused({ Type: 'json-file', Config: { compress: 'true', 'max-file': '1' } }),
    'failed to initialize logging driver: compress cannot be true when max-file is less than 2 or max-size is not set');
  assert.equal(refused({ Type: 'local', Config: { 'max-size': 'lots' } }), "failed to initialize logging driver: invalid value for max-size: lots: invalid size: 'lots'");
  assert.equal(refused({ Type: 'local', Config: { 'max-file': '1' } }), 'failed to initialize logging driver: compression cannot be enabled when max file count is 1');
  assert.equal(refused({ Type: 'json-file', Config: { mode: 'fast' } }), 'logger: logging mode not supported: fast');
  assert.equal(refused({ Type: 'json-file', Config: { 'max-buffer-size': '1m' } }), "logger: max-buffer-size option is only supported with 'mode=non-blocking'");
  // none takes anything, as dockerd's ValidateLogOpts does
  assert.deepEqual(logPolicyOf({ Type: 'none', Config: { foo: 'bar' } }), { driver: 'none' });
});

test('log config: go-units and strconv parsers', () => {
  assert.equal(fromHumanSize('10m'), 10_000_000);
  assert.equal(fromHumanSize('10MiB'), 10_000_000);
  assert.equal(fromHumanSize('1.5k'), 1500);
  assert.equal(fromHumanSize('123'), 123);
  assert.equal(fromHumanSize('2 GB'), 2_000_000_000);
  assert.throws(() => fromHumanSize('-1'), /invalid size: '-1'/);
  assert.throws(() => fromHumanSize('1.2.3m'), /strconv.ParseFloat: parsing "1.2.3": invalid syntax/);
  assert.equal(goAtoi('+05'), 5);
  assert.throws(() => goAtoi('1.5'), /invalid syntax/);
  assert.equal(goParseBool('T'), true);
  assert.equal(goParseBool('0'), false);
  assert.deepEqual(parseLogOptFlags(['max-size=1m', 'tag=a=b']), { 'max-size': '1m', tag: 'a=b' });
  assert.throws(() => parseLogOptFlags(['max-size']), /invalid key value pair/);
});
