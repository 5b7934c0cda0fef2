import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkArgs, parseFlags, UsageError, type CommandSpec } from './flags';

const spec: CommandSpec = {
  name: 'run', usage: 'run [OPTIONS] IMAGE [COMMAND] [ARG...]', description: 'Run', interspersed: false, minArgs: 1,
  flags: [
    { long: 'interactive', short: 'i', type: 'bool' }, { long: 'tty', short: 't', type: 'bool' },
    { long: 'name', type: 'string' }, { long: 'env', short: 'e', type: 'list' }, { long: 'publish', short: 'p', type: 'list' },
    { long: 'rm', type: 'bool' }, { long: 'last', short: 'n', type: 'int', def: -1 }, { long: 'hostname', short: 'h', type: 'string' },
  ],
};

test('pflag forms: clusters, attached values, =, repeated lists', () => {
  const p = parseFlags(spec, ['-it', '--name=x', '-e', 'A=1', '-eB=2', '-e=C=3', '-p80:80', '--rm', 'busybox', 'sh']);
  assert.equal(p.opts.interactive, true);
  assert.equal(p.opts.tty, true);
  assert.equal(p.opts.name, 'x');
  assert.deepEqual(p.opts.env, ['A=1', 'B=2', 'C=3']);
  assert.deepEqual(p.opts.publish, ['80:80']);
  assert.equal(p.opts.rm, true);
  assert.deepEqual(p.args, ['busybox', 'sh']);
  assert.ok(p.changed.has('name') && !p.changed.has('last'));
});

test('options stop at the image when not interspersed; -- ends options', () => {
  assert.deepEqual(parseFlags(spec, ['img', '-it', '--rm']).args, ['img', '-it', '--rm']);
  assert.equal(parseFlags(spec, ['img', '--rm']).opts.rm, false);
  assert.deepEqual(parseFlags(spec, ['--', '--rm']).args, ['--rm']);
  assert.deepEqual(parseFlags({ ...spec, interspersed: true }, ['a', '--rm', 'b']).args, ['a', 'b']);
});

test('bools take =false, ints parse, --name value form', () => {
  const p = parseFlags(spec, ['--rm=false', '-n', '3', '--name', 'y', 'img']);
  assert.equal(p.opts.rm, false);
  assert.equal(p.opts.last, 3);
  assert.equal(p.opts.name, 'y');
  assert.equal(parseFlags(spec, ['img']).opts.last, -1);
});

test('errors: unknown flags and missing values are usage errors with status 125', () => {
  for (const argv of [['--bogus'], ['-x'], ['--name'], ['-e'], ['-n', 'abc'], ['--rm=maybe']]) {
    assert.throws(() => parseFlags(spec, argv), (e: unknown) => e instanceof UsageError && e.status === 125, argv.join(' '));
  }
  assert.throws(() => parseFlags(spec, ['--bogus']), /unknown flag: --bogus/);
});

test('-h is the hostname flag when a command defines it; --help is help', () => {
  assert.equal(parseFlags(spec, ['-h', 'box', 'img']).opts.hostname, 'box');
  assert.equal(parseFlags(spec, ['--help']).help, true);
});

test('argument count validation uses status 1', () => {
  assert.throws(() => checkArgs(spec, 'berth', []), (e: unknown) => e instanceof UsageError && e.status === 1);
  checkArgs(spec, 'berth', ['img']);
  assert.throws(() => checkArgs({ ...spec, minArgs: 2, maxArgs: 2 }, 'berth', ['a']), /berth: 'berth run' requires 2 arguments\n\nUsage:  berth /);
});
