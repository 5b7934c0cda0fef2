import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { csvFields, parseMount, ramInBytes, suggest } from './run-mount';

const id = (w: string) => w;
const fails = (v: string, re: RegExp) => assert.throws(() => parseMount(v, id), (e: Error) => { assert.match(e.message, re); return true; });

describe('RUN --mount parsing (BuildKit commands_runmount.go)', () => {
  test('defaults: bind, read-only; cache and tmpfs writable', () => {
    assert.deepEqual(parseMount('target=/x', id), { type: 'bind', from: '', source: '', target: '/x', readOnly: true, sizeLimit: 0, id: '', sharing: '', required: false });
    assert.equal(parseMount('type=cache,target=/x', id).readOnly, false);
    assert.equal(parseMount('type=tmpfs,target=/x', id).readOnly, false);
    assert.equal(parseMount('type=cache,target=/x,ro', id).readOnly, true);
    assert.equal(parseMount('type=bind,target=/x,rw=true', id).readOnly, false);
    assert.equal(parseMount('type=bind,target=/x,readwrite', id).readOnly, false);
    assert.equal(parseMount('type=bind,target=/x,readonly=false', id).readOnly, false);
  });
  test('keys and aliases; case-insensitive keys and types', () => {
    const m = parseMount('TYPE=Cache,id=c1,dst=/t,src=sub,from=stage,sharing=LOCKED,mode=0750,uid=12,gid=34', id);
    assert.deepEqual({ ...m }, { type: 'cache', from: 'stage', source: 'sub', target: '/t', readOnly: false, sizeLimit: 0, id: 'c1', sharing: 'locked', required: false, mode: 0o750, uid: 12, gid: 34 });
    assert.equal(parseMount('type=tmpfs,destination=/t,size=64m', id).sizeLimit, 64 * 1024 * 1024);
    const s = parseMount('type=secret,id=tok,env=TOKEN,required', id);
    assert.equal(s.required, true);
    assert.equal(s.env, 'TOKEN');
    assert.equal(parseMount('type=ssh,required=false', id).required, false);
  });
  test('values are expanded with the stage variables; without an expander only `from` is checked', () => {
    const vars: Record<string, string> = { T: '/cache', ID: 'x' };
    const m = parseMount('type=cache,target=$T,id=${ID}', (w) => w.replace(/\$\{?(\w+)\}?/g, (_s, n: string) => vars[n] ?? ''));
    assert.equal(m.target, '/cache');
    assert.equal(m.id, 'x');
    assert.equal(parseMount('type=$T,target=$T').type, 'bind');
    assert.throws(() => parseMount('from=$STAGE,target=/x'), /'from' doesn't support variable expansion, define alias stage instead/);
    assert.equal(parseMount('from=stage$,target=/x').from, 'stage$');
  });
  test('errors with BuildKit\'s messages and suggestions', () => {
    fails('type=cahce', /^unsupported mount type "cahce" \(did you mean cache\?\)$/);
    fails('type=nothing', /^unsupported mount type "nothing"$/);
    fails('type=cache,taget=/x', /^unexpected key 'taget' in 'taget=\/x' \(did you mean target\?\)$/);
    fails('type=cache,shraing=locked', /did you mean sharing\?/);
    fails('type=cache,sharing=lockd', /^unsupported sharing value "lockd" \(did you mean locked\?\)$/);
    fails('type=bind,required', /^unexpected key 'required' for mount type 'bind'$/);
    fails('type=cache,size=1m', /^unexpected key 'size' for mount type 'cache'$/);
    fails('type=tmpfs,size=lots', /^invalid value for size: lots$/);
    fails('type=cache,mode=8', /^invalid value 8 for mode$/);
    fails('type=cache,uid=-1', /^invalid value -1 for uid$/);
    fails('type=cache,gid=x', /^invalid value x for gid$/);
    fails('type=tmpfs,mode=0700', /^mode not allowed for "tmpfs" type mounts$/);
    fails('type=bind,gid=1', /^gid not allowed for "bind" type mounts$/);
    fails('type=secret', /^invalid secret mount. one of source, target required$/);
    fails('type=secret,id=a,source=b', /^both source and id can't be set$/);
    fails('type=secret,id=a,from=x', /^secret mount should not have a from$/);
    fails('type=secret,id=a,sharing=shared', /^secret mount should not define sharing$/);
    fails('type=ssh,sharing=shared', /^invalid cache sharing set for ssh mount$/);
    fails('type=cache,target', /^invalid field 'target' must be a key=value pair$/);
    fails('type=cache,ro=maybe', /^invalid value for ro: maybe$/);
  });
  test('CSV fields as Go encoding/csv reads them', () => {
    assert.deepEqual(csvFields('a=1,b=2'), ['a=1', 'b=2']);
    assert.deepEqual(csvFields('"target=/a,b",x=1'), ['target=/a,b', 'x=1']);
    assert.deepEqual(csvFields('"a=""q"""'), ['a="q"']);
    assert.deepEqual(csvFields('a=1,'), ['a=1', '']);
    assert.throws(() => csvFields('a="b"'), /bare " in non-quoted-field/);
    assert.throws(() => csvFields('"a=b'), /extraneous or missing " in quoted-field/);
    assert.equal(parseMount('"type=bind","target=/a,b"', id).target, '/a,b');
  });
  test('sizes as go-units RAMInBytes; suggestions within edit distance 2', () => {
    assert.equal(ramInBytes('512'), 512);
    assert.equal(ramInBytes('1k'), 1024);
    assert.equal(ramInBytes('1.5g'), 1.5 * 1024 ** 3);
    assert.equal(ramInBytes('2 MiB'), 2 * 1024 ** 2);
    assert.equal(ramInBytes('3mb'), 3 * 1024 ** 2);
    assert.equal(suggest('m', 'tmpf', ['bind', 'tmpfs']), 'm (did you mean tmpfs?)');
    assert.equal(suggest('m', 'xxxxxx', ['bind', 'tmpfs']), 'm');
  });
});
