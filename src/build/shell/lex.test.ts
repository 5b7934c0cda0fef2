import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ShellLex, envFrom, expandWord } from './lex';

const env = envFrom(['HOME=/root', 'EMPTY=', 'SP=a  b', 'PATHV=/usr/local/bin:/usr/bin']);
const w = (s: string, lex = new ShellLex()) => lex.processWord(s, env).result;
const ws = (s: string, lex = new ShellLex()) => lex.processWords(s, env);
const bad = (s: string, re: RegExp, lex = new ShellLex()) =>
  assert.throws(() => lex.processWord(s, env), (e: unknown) => { assert.equal((e as { kind?: string }).kind, 'InvalidArgument'); assert.match((e as Error).message, re); return true; });

describe('variable substitution', () => {
  test('$VAR and ${VAR}', () => {
    assert.equal(w('$HOME/x'), '/root/x');
    assert.equal(w('${HOME}x'), '/rootx');
    assert.equal(w('a$NOPE.b'), 'a.b');
    assert.equal(w('$'), '$');
    assert.equal(w('$.x'), '$.x');
    assert.equal(w('$$'), ''); // $$ names the (unset) special parameter $
    assert.equal(w('a$1b'), 'ab');
  });
  test('${VAR:-x} ${VAR-x} ${VAR:+x} ${VAR+x}: set, empty and unset', () => {
    assert.equal(w('${HOME:-d}'), '/root');
    assert.equal(w('${EMPTY:-d}'), 'd');
    assert.equal(w('${EMPTY-d}'), '');
    assert.equal(w('${NOPE-d}'), 'd');
    assert.equal(w('${HOME:+y}'), 'y');
    assert.equal(w('${EMPTY:+y}'), '');
    assert.equal(w('${EMPTY+y}'), 'y');
    assert.equal(w('${NOPE+y}'), '');
    assert.equal(w('${NOPE:-${HOME}/x}'), '/root/x');
  });
  test('${VAR:?msg}, ${VAR?msg}', () => {
    assert.equal(w('${HOME:?x}'), '/root');
    assert.equal(w('${EMPTY?x}'), '');
    bad('${EMPTY:?must be set}', /EMPTY: must be set/);
    bad('${NOPE?}', /NOPE: is not allowed to be unset/);
  });
  test('pattern removal and replacement', () => {
    assert.equal(w('${PATHV#*/}'), 'usr/local/bin:/usr/bin');
    assert.equal(w('${PATHV##*/}'), 'bin');
    assert.equal(w('${PATHV%:*}'), '/usr/local/bin');
    assert.equal(w('${PATHV%%:*}'), '/usr/local/bin');
    assert.equal(w('${PATHV/usr/opt}'), '/opt/local/bin:/usr/bin');
    assert.equal(w('${PATHV//usr/opt}'), '/opt/local/bin:/opt/bin');
    assert.equal(w('${PATHV//\\//-}'), '-usr-local-bin:-usr-bin');
  });
  test('syntax errors', () => {
    bad('${}', /bad substitution/);
    bad('${', /missing '}'/);
    bad('${HOME', /unsupported modifier/); // as in BuildKit: the end of input is the "modifier"
    bad('${HOME:-x', /missing '}'/);
    bad('${HOME:x}', /unsupported modifier \(:x\)/);
    bad('${HOME:#x}', /unsupported modifier/);
    bad('"abc', /failed to process "\\"abc": unexpected end of statement while looking for matching double-quote/);
  });
  test('quotes and escapes', () => {
    assert.equal(w(`'$HOME'`), '$HOME');
    assert.equal(w('"$HOME"'), '/root');
    assert.equal(w('\\$HOME'), '$HOME');
    assert.equal(w('"a\\"b\\c"'), 'a"b\\c');
    assert.equal(w('a\\'), 'a');
    assert.equal(w('`$HOME', new ShellLex({ escapeToken: '`' })), '$HOME');
    assert.equal(w('"\'$HOME\'"', new ShellLex({ rawQuotes: true })), '"\'/root\'"');
    assert.equal(expandWord('${HOME}', envFrom({ HOME: '/h' })), '/h');
  });
  test('skipUnsetEnv leaves unset references as written', () => {
    const lex = new ShellLex({ skipUnsetEnv: true });
    assert.equal(w('$NOPE ${NOPE} ${NOPE:-x} ${NOPE/a/b} $HOME', lex), '$NOPE ${NOPE} ${NOPE:-x} ${NOPE/a/b} /root');
  });
  test('matched and unmatched names', () => {
    const r = new ShellLex().processWord('$HOME $NOPE ${EMPTY:-x}', env);
    assert.deepEqual([...r.matched].sort(), ['EMPTY', 'HOME']);
    assert.deepEqual([...r.unmatched], ['NOPE']);
  });
});

describe('word splitting', () => {
  test('unquoted values split, quoted ones do not', () => {
    assert.deepEqual(ws('x${SP}y'), ['xa', 'by']);
    assert.deepEqual(ws('x"${SP}"y'), ['xa  by']);
    assert.deepEqual(ws('a\\ b  c'), ['a b', 'c']);
    assert.deepEqual(ws('<<  EOF > f'), ['<<  EOF', '>', 'f']);
  });
  test("a nested ${...} restarts the current word, as BuildKit's shared buffer does", () => {
    assert.deepEqual(ws('a${NOPE:-b}c'), ['bc']);
  });
});
