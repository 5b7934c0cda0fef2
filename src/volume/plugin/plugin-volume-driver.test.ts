import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isKind } from '../../base/errors';
import { openDatabase } from '../../sys/database';
import type { PluginClient } from './plugin-client';
import { PluginRecords } from './plugin-records';
import { PluginVolumeDriver } from './plugin-volume-driver';
import { checkErr, implementsVolumeDriver, mountpointOf, scopeOf, volumesOf } from './protocol';

/** A plugin client that answers from a table and records the calls. */
function fakeClient(answers: Record<string, (body: Record<string, unknown>) => unknown>) {
  const calls: Array<{ method: string; body: unknown }> = [];
  const client = {
    async call<T>(method: string, body: unknown): Promise<T> {
      calls.push({ method, body });
      const a = answers[method];
      if (!a) throw new Error(`unexpected call ${method}`);
      return a(body as Record<string, unknown>) as T;
    },
  } as unknown as PluginClient;
  return { client, calls, methods: () => calls.map((c) => c.method) };
}

function driverWith(answers: Record<string, (body: Record<string, unknown>) => unknown>) {
  const db = openDatabase(':memory:');
  const records = new PluginRecords(db);
  const fake = fakeClient({
    'VolumeDriver.Create': () => ({}),
    'VolumeDriver.Path': (b) => ({ Mountpoint: `/plug/${b.Name}` }),
    'VolumeDriver.Mount': (b) => ({ Mountpoint: `/plug/${b.Name}` }),
    'VolumeDriver.Unmount': () => ({}),
    'VolumeDriver.Remove': () => ({}),
    ...answers,
  });
  return { driver: new PluginVolumeDriver('p', fake.client, records, 'local'), records, db, ...fake };
}

describe('VolumeDriver protocol answers', () => {
  test('a non-empty Err is the error, with the plugin\'s text', () => {
    assert.deepEqual(checkErr({ Err: '' }), { Err: '' });
    assert.throws(() => checkErr({ Err: 'boom' }), (e) => (e as Error).message === 'boom');
    assert.throws(() => mountpointOf({ Mountpoint: '/x', Err: 'no' }, 'v'), (e) => (e as Error).message === 'no');
  });

  test('Mount must give an absolute path', () => {
    assert.equal(mountpointOf({ Mountpoint: '/mnt/v' }, 'v'), '/mnt/v');
    for (const bad of [undefined, '', 'relative/path']) assert.throws(() => mountpointOf({ Mountpoint: bad }, 'v'), /no absolute mountpoint/);
  });

  test('scope: only "global" is global; List drops nameless entries; Activate must list VolumeDriver', () => {
    assert.equal(scopeOf({ Capabilities: { Scope: 'global' } }), 'global');
    assert.equal(scopeOf({ Capabilities: { Scope: 'GLOBAL' } }), 'global');
    for (const a of [undefined, {}, { Capabilities: null }, { Capabilities: { Scope: 'cluster' } }]) assert.equal(scopeOf(a), 'local');
    assert.deepEqual(volumesOf({ Volumes: [{ Name: 'a' }, { Name: '' }, null as never, { Mountpoint: '/x' }] }).map((v) => v.Name), ['a']);
    assert.deepEqual(volumesOf({ Volumes: null }), []);
    assert.throws(() => volumesOf({ Err: 'down' }), /down/);
    assert.ok(implementsVolumeDriver({ Implements: ['authz', 'VolumeDriver'] }));
    assert.ok(!implementsVolumeDriver({ Implements: ['NetworkDriver'] }));
    assert.ok(!implementsVolumeDriver({}));
  });
});

describe('PluginVolumeDriver', () => {
  test('create sends Name and Opts, records labels, answers with Path\'s mountpoint', async () => {
    const { driver, calls, records } = driverWith({});
    const v = await driver.create('v1', { options: { k: 'v' }, labels: { team: 'a' } });
    assert.deepEqual(calls[0], { method: 'VolumeDriver.Create', body: { Name: 'v1', Opts: { k: 'v' } } });
    assert.equal(v.mountpoint, '/plug/v1');
    assert.equal(v.driver, 'p');
    assert.deepEqual(v.labels, { team: 'a' });
    assert.equal(records.get('v1')?.driver, 'p');
  });

  test('a plugin Err on create records nothing', async () => {
    const { driver, records } = driverWith({ 'VolumeDriver.Create': () => ({ Err: 'quota' }) });
    await assert.rejects(driver.create('v1', {}), /quota/);
    assert.equal(records.get('v1'), undefined);
  });

  test('Mount and Unmount pair per ref: a second mount by the same ref and an unknown unmount call nothing', async () => {
    const { driver, methods, records } = driverWith({});
    await driver.create('v1', {});
    const before = methods().length;
    assert.equal(await driver.mount('v1', 'c1'), '/plug/v1');
    assert.equal(await driver.mount('v1', 'c1'), '/plug/v1');
    assert.equal(await driver.mount('v1', 'c2'), '/plug/v1');
    await driver.unmount('v1', 'c1');
    await driver.unmount('v1', 'c1');
    await driver.unmount('v1', 'nobody');
    assert.deepEqual(methods().slice(before), ['VolumeDriver.Mount', 'VolumeDriver.Mount', 'VolumeDriver.Unmount']);
    // The hold of c2 is in the database: a new driver (a berthd restart) does not mount again.
    const again = new PluginVolumeDriver('p', fakeClient({}).client, records, 'local');
    assert.equal(await again.mount('v1', 'c2'), '/plug/v1');
  });

  test('remove is refused while mounted (Conflict) and forgets the volume after', async () => {
    const { driver, records } = driverWith({});
    await driver.create('v1', {});
    await driver.mount('v1', 'c1');
    await assert.rejects(driver.remove('v1'), (e) => isKind(e, 'Conflict'));
    await driver.unmount('v1', 'c1');
    await driver.remove('v1');
    assert.equal(records.get('v1'), undefined);
  });

  test('a Mount without a usable path is given back with Unmount, and is an error', async () => {
    const { driver, methods } = driverWith({ 'VolumeDriver.Mount': () => ({ Mountpoint: '' }) });
    await driver.create('v1', {});
    await assert.rejects(driver.mount('v1', 'c1'), /no absolute mountpoint/);
    assert.deepEqual(methods().slice(-2), ['VolumeDriver.Mount', 'VolumeDriver.Unmount']);
    await driver.unmount('v1', 'c1');
    assert.equal(methods().at(-1), 'VolumeDriver.Unmount');
    assert.equal(methods().filter((m) => m === 'VolumeDriver.Unmount').length, 1);
  });

  test('a failing Unmount still ends the ref\'s hold (one Unmount per Mount)', async () => {
    const { driver, methods } = driverWith({ 'VolumeDriver.Unmount': () => ({ Err: 'busy' }) });
    await driver.create('v1', {});
    await driver.mount('v1', 'c1');
    await assert.rejects(driver.unmount('v1', 'c1'), /unmount volume v1: busy/);
    await driver.unmount('v1', 'c1');
    assert.equal(methods().filter((m) => m === 'VolumeDriver.Unmount').length, 1);
  });

  test('get: Get\'s answer with berthd\'s labels; an Err for a volume berthd never made is "no such volume"', async () => {
    const { driver } = driverWith({
      'VolumeDriver.Get': (b) => (b.Name === 'v1' ? { Volume: { Name: 'v1', Mountpoint: '/m', CreatedAt: '2024-01-02T03:04:05Z', Status: { ok: true } } } : { Err: 'unknown volume' }),
    });
    await driver.create('v1', { labels: { a: 'b' } });
    const v = await driver.get('v1');
    assert.deepEqual({ mp: v?.mountpoint, created: v?.createdAt, status: v?.status, labels: v?.labels }, { mp: '/m', created: '2024-01-02T03:04:05Z', status: { ok: true }, labels: { a: 'b' } });
    assert.equal(await driver.get('other'), undefined);
  });

  test('list: the plugin\'s volumes, with berthd\'s records where it has them', async () => {
    const { driver } = driverWith({ 'VolumeDriver.List': () => ({ Volumes: [{ Name: 'v1', Mountpoint: '/m1' }, { Name: 'outside' }] }) });
    await driver.create('v1', { labels: { a: 'b' }, anonymous: true });
    const got = await driver.list();
    assert.deepEqual(got.map((v) => [v.name, v.mountpoint, v.anonymous, v.labels]), [['v1', '/m1', true, { a: 'b' }], ['outside', '', false, {}]]);
  });
});
