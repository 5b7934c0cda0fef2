import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Template } from '../template/template';
import { eventView, prettyEvent, rfc3339NanoFixed } from './events';
import type { EventMessage } from '../../client/types';

const ev: EventMessage = {
  status: 'create', id: 'abc123', from: 'ubuntu:latest', Type: 'container', Action: 'create',
  Actor: { ID: 'abc123', Attributes: { name: 'x', image: 'ubuntu:latest' } }, scope: 'local', time: 1, timeNano: 1000000000,
};

// docker CLI 28's testdata/docker-events-*.golden, in UTC.
test('events: the default line, with attributes sorted', { skip: new Date(0).getTimezoneOffset() !== 0 ? 'needs TZ=UTC' : false }, () => {
  assert.equal(prettyEvent(ev, '1000000000'), '1970-01-01T00:00:01.000000000Z container create abc123 (image=ubuntu:latest, name=x)\n');
  // timeNano beyond 2^53 keeps every digit; without it, time (seconds).
  assert.equal(prettyEvent(ev, '1764295282123456789'), '2025-11-28T02:01:22.123456789Z container create abc123 (image=ubuntu:latest, name=x)\n');
  assert.equal(prettyEvent({ Type: 'volume', Action: 'destroy', Actor: { ID: 'v' }, time: 2 }, ''), '1970-01-01T00:00:02.000000000Z volume destroy v\n');
  assert.equal(rfc3339NanoFixed(0, 5), '1970-01-01T00:00:00.000000005Z');
});

test('events: templates see events.Message; json as docker marshals it', () => {
  const run = (src: string, nano = '1000000000') => Template.compile(src).execute(eventView(ev, nano));
  assert.equal(run('{{json .}}'), '{"status":"create","id":"abc123","from":"ubuntu:latest","Type":"container","Action":"create","Actor":{"ID":"abc123","Attributes":{"image":"ubuntu:latest","name":"x"}},"scope":"local","time":1,"timeNano":1000000000}');
  assert.equal(run('{{.TimeNano}} {{json .Action}}', '1764295282123456789'), '1764295282123456789 "create"');
  // Other kinds have no status/id/from: omitted, as Go's omitempty does. HTML is not escaped.
  const vol = eventView({ Type: 'volume', Action: 'create', Actor: { ID: 'v', Attributes: { driver: '<local>' } }, scope: 'local', time: 1, timeNano: 1 }, '1');
  assert.equal(Template.compile('{{json .}}').execute(vol), '{"Type":"volume","Action":"create","Actor":{"ID":"v","Attributes":{"driver":"<local>"}},"scope":"local","time":1,"timeNano":1}');
  assert.throws(() => run('{{.Nope}}'), /can't evaluate field Nope in type events.Message/);
});
