import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Template, TemplateError } from './template';

const run = (src: string, data: unknown = {}) => Template.compile(src).execute(data);

test('fields, chains and missing keys print like Go', () => {
  assert.equal(run('{{.A}} {{.B.C}}', { A: 1, B: { C: 'x' } }), '1 x');
  assert.equal(run('{{.Missing}}', {}), '<no value>');
  assert.equal(run('{{.N}}', { N: null }), '<nil>');
  assert.equal(run('{{.}}', 'dot'), 'dot');
  assert.equal(run('{{$.A}}', { A: 'root' }), 'root');
  assert.throws(() => Template.compile('{{.A.B}}').execute({ A: {} }, { missingKey: 'error' }),
    (e: Error) => e.message === 'template: :1:2: executing "" at <.A.B>: map has no entry for key "B"');
});

test('Go printing rules for maps, slices, bools and numbers', () => {
  assert.equal(run('{{.M}}', { M: { b: 1, a: 'x' } }), 'map[a:x b:1]');
  assert.equal(run('{{.L}}', { L: [1, 'a', null, [2]] }), '[1 a <nil> [2]]');
  assert.equal(run('{{.T}} {{.F}}', { T: true, F: false }), 'true false');
  assert.equal(run('{{.I}} {{.F}}', { I: 1234567890123, F: 2.5 }), '1234567890123 2.5');
  assert.equal(run('{{.E}}', { E: {} }), 'map[]');
});

test('if / else if / else', () => {
  const t = Template.compile('{{if eq .A 1}}one{{else if eq .A 2}}two{{else}}other{{end}}');
  assert.equal(t.execute({ A: 1 }), 'one');
  assert.equal(t.execute({ A: 2 }), 'two');
  assert.equal(t.execute({ A: 3 }), 'other');
  assert.equal(run('{{if .L}}yes{{else}}no{{end}}', { L: [] }), 'no');
  assert.equal(run('{{if .S}}yes{{else}}no{{end}}', { S: '' }), 'no');
  assert.equal(run('{{if .X}}yes{{else}}no{{end}}', {}), 'no');
});

test('range with variables, else, break and continue; maps iterate in key order', () => {
  assert.equal(run('{{range $i, $v := .L}}{{$i}}={{$v}},{{end}}', { L: ['a', 'b'] }), '0=a,1=b,');
  assert.equal(run('{{range $k, $v := .M}}{{$k}}:{{$v}} {{end}}', { M: { z: 1, a: 2 } }), 'a:2 z:1 ');
  assert.equal(run('{{range .L}}x{{else}}empty{{end}}', { L: [] }), 'empty');
  assert.equal(run('{{range .L}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}', { L: [1, 2, 3, 4, 5] }), '13');
  assert.equal(run('{{range .L}}{{.}}{{end}}', { L: null }), '');
});

test('with, variables and assignment scoping', () => {
  assert.equal(run('{{with .A}}{{.B}}{{end}}', { A: { B: 'in' } }), 'in');
  assert.equal(run('{{with .X}}a{{else}}b{{end}}', {}), 'b');
  assert.equal(run('{{with .X}}a{{else with .Y}}{{.}}{{end}}', { Y: 'y' }), 'y');
  assert.equal(run('{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}'), '2');
  assert.equal(run('{{$x := "a"}}{{$x}}{{range .L}}{{$x}}{{end}}', { L: [1, 2] }), 'aaa');
});

test('pipelines, parentheses and comparison functions', () => {
  assert.equal(run('{{.A | printf "%v!"}}', { A: 3 }), '3!');
  assert.equal(run('{{"x" | printf "%s-%s" "a"}}'), 'a-x');
  assert.equal(run('{{(index .L 1).N}}', { L: [{ N: 'a' }, { N: 'b' }] }), 'b');
  assert.equal(run('{{and 1 0}} {{and 1 2}} {{or 0 "" "y"}} {{or 0 ""}} {{not 0}}'), '0 2 y  true');
  assert.equal(run('{{eq 1 2 1}} {{ne "a" "b"}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}}'), 'true true true true true false');
  // and/or short-circuit: the erroring call is never made
  assert.equal(run('{{or 1 (index .L 5)}}', { L: [] }), '1');
});

test('builtins: len index slice print printf println', () => {
  assert.equal(run('{{len .L}} {{len .S}} {{len .M}}', { L: [1, 2], S: 'héllo', M: { a: 1 } }), '2 6 1');
  assert.equal(run('{{index .M "k"}} {{index .L 0}} {{index .M "nope"}}', { M: { k: 'v' }, L: ['z'] }), 'v z <nil>');
  assert.equal(run('{{slice .S 1 3}} {{slice .L 1}}', { S: 'abcd', L: [1, 2, 3] }), 'bc [2 3]');
  assert.equal(run('{{print 1 2 "a" "b" 3}}'), '1 2ab3');
  assert.equal(run('{{println 1 "a"}}'), '1 a\n');
  assert.equal(run('{{printf "%5d|%-4s|%q|%x|%.2f|%t|%%" 42 "b" "c" 255 3.14159 true}}'), '   42|b   |"c"|ff|3.14|true|%');
  assert.equal(run('{{printf "%s %s" "a"}}'), 'a %!s(MISSING)');
});

test('docker functions: json join split title lower upper pad truncate', () => {
  assert.equal(run('{{json .}}', { A: [1, 2], B: null, C: '<&>' }), '{"A":[1,2],"B":null,"C":"<&>"}');
  assert.equal(run('{{json .X}}', {}), 'null');
  assert.equal(run('{{join .L ", "}}', { L: ['a', 'b'] }), 'a, b');
  assert.equal(run('{{split "a:b:c" ":"}}'), '[a b c]');
  assert.equal(run('{{title "hello world"}} {{lower "ABC"}} {{upper "abc"}}'), 'Hello World abc ABC');
  assert.equal(run('[{{pad "x" 1 2}}][{{pad "" 1 2}}]'), '[ x  ][]');
  assert.equal(run('{{truncate "abcdef" 3}} {{truncate "ab" 3}}'), 'abc ab');
});

test('whitespace trimming and comments', () => {
  assert.equal(run('a  {{- "b" -}}  c'), 'abc');
  assert.equal(run('a {{/* comment */}}b'), 'a b');
  assert.equal(run('a {{- /* c */ -}} b'), 'ab');
  assert.equal(run('{{-3}}'), '-3');
});

test('methods with arguments and getters on objects', () => {
  class Row { get ID() { return 'abc'; } Label(k: string) { return `L:${k}`; } }
  assert.equal(run('{{.ID}} {{.Label "x"}}', new Row()), 'abc L:x');
});

test('define and template', () => {
  assert.equal(run('{{define "T"}}[{{.}}]{{end}}{{template "T" .A}}', { A: 'x' }), '[x]');
});

test('parse errors read like Go', () => {
  const err = (src: string) => { try { Template.compile(src); } catch (e) { assert.ok(e instanceof TemplateError); return e.message; } return assert.fail('no error'); };
  assert.equal(err('{{foo}}'), 'template: :1: function "foo" not defined');
  assert.match(err('{{.A'), /^template: :1: unclosed action/);
  assert.match(err('x\n{{if .A}}'), /^template: :2: unexpected EOF/);
  assert.match(err('{{end}}'), /^template: :1: unexpected \{\{end\}\}/);
  assert.match(err('{{$x}}'), /undefined variable "\$x"/);
});

test('execution errors read like Go', () => {
  const err = (src: string, data: unknown) => { try { run(src, data); } catch (e) { assert.ok(e instanceof TemplateError); return e.message; } return assert.fail('no error'); };
  assert.equal(err('{{.A.B}}', { A: null }), 'template: :1:2: executing "" at <.A.B>: nil pointer evaluating interface {}.B');
  assert.equal(err('{{index .L 5}}', { L: [] }), 'template: :1:2: executing "" at <index .L 5>: error calling index: index out of range: 5');
  assert.match(err('{{.S.X}}', { S: 'str' }), /can't evaluate field X in type string/);
  assert.match(err('{{eq .A "x"}}', { A: 1 }), /incompatible types for comparison/);
  assert.match(err('{{len 3}}', {}), /error calling len: len of type int/);
});
