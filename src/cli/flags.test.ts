import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkArgs, helpText, parseFlags, readCSVRecord, UsageError, type CommandSpec } from './flags';

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

test('strings flags split like pflag\'s StringSlice (CSV); validators check and rewrite; dest shares a value', () => {
  const s: CommandSpec = {
    name: 'x', usage: 'x', description: '',
    flags: [
      { long: 'alias', type: 'strings' },
      { long: 'dns', type: 'list', validate: (v) => { if (v === 'bad') throw new Error('not an address'); return v.toUpperCase(); } },
      { long: 'dns-opt', type: 'list', dest: 'dns-option', hidden: true }, { long: 'dns-option', type: 'list' },
    ],
  };
  const p = parseFlags(s, ['--alias', 'a,b', '--alias', '"c,d"', '--dns', 'x', '--dns-option', '1', '--dns-opt', '2', '--dns-option', '3']);
  assert.deepEqual(p.opts.alias, ['a', 'b', 'c,d']);
  assert.deepEqual(p.opts.dns, ['X']);
  assert.deepEqual(p.opts['dns-option'], ['1', '2', '3']);
  assert.equal(p.opts['dns-opt'], undefined);
  assert.ok(p.changed.has('dns-option') && p.changed.has('dns-opt'));
  assert.throws(() => parseFlags(s, ['--dns', 'bad']), (e: unknown) => e instanceof UsageError && e.status === 125 && e.message === 'invalid argument "bad" for "--dns" flag: not an address');
  assert.deepEqual(readCSVRecord('a,,"b""c",'), ['a', '', 'b"c', '']);
  assert.deepEqual(readCSVRecord(''), []);
  assert.throws(() => readCSVRecord('a"b'), /bare " in non-quoted-field/);
});

test('help is laid out and wrapped like pflag\'s FlagUsagesWrapped at 79 columns', () => {
  const s: CommandSpec = {
    name: 'network ls', usage: 'network ls [OPTIONS]', description: 'List networks', aliases: ['network ls', 'network list'],
    flags: [
      { long: 'filter', short: 'f', type: 'list', meta: 'filter', help: 'Provide filter values (e.g. "driver=bridge")' },
      { long: 'opt', short: 'o', type: 'list', meta: 'map', defaultText: 'map[]', help: 'Set driver specific options' },
      { long: 'ipv4', type: 'bool', def: true, help: 'Enable or disable IPv4 address assignment' },
      { long: 'quiet', short: 'q', type: 'bool', help: 'Only display network IDs and some more words to wrap around the end' },
      { long: 'hidden', type: 'bool', hidden: true },
    ],
  };
  assert.equal(helpText(s, 'berth'), [
    'Usage:  berth network ls [OPTIONS]', '', 'List networks', '', 'Aliases:', '  berth network ls, berth network list', '', 'Options:',
    '  -f, --filter filter   Provide filter values (e.g. "driver=bridge")',
    '  -o, --opt map         Set driver specific options (default map[])',
    '      --ipv4            Enable or disable IPv4 address assignment',
    '                        (default true)',
    '  -q, --quiet           Only display network IDs and some more words to',
    '                        wrap around the end',
    '',
  ].join('\n'));
});

test('regression: "requires at most" errors end with docker 28\'s own "SRun" typo', () => {
  assert.throws(() => checkArgs({ ...spec, name: 'volume create', usage: 'volume create [OPTIONS] [VOLUME]', minArgs: 0, maxArgs: 1 }, 'berth', ['a', 'b']),
    (e: Error) => e.message === "berth: 'berth volume create' requires at most 1 argument\n\nUsage:  berth volume create [OPTIONS] [VOLUME]\n\nSRun 'berth volume create --help' for more information");
});
