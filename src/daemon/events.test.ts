import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase } from '../sys/database';
import { EventBus } from './events';

test('persisted events survive a new bus on the same database, bounded by count', () => {
  const db = openDatabase(':memory:');
  const a = new EventBus({ db, retention: { maxEvents: 150, maxAgeMs: 3600_000 } });
  for (let i = 0; i < 400; i++) a.publish('container', 'start', `c${i}`, { name: `n${i}` });
  const b = new EventBus({ db });
  const got = b.since(0);
  // Trimming runs every 100 inserts, so the bound holds within one batch.
  assert.ok(got.length >= 150 && got.length <= 250, String(got.length));
  assert.equal(got.at(-1)?.Actor.ID, 'c399');
  assert.equal(got.at(-1)?.status, 'start');
  assert.equal(b.count, 0);
  assert.equal(a.count, 400);
  db.close();
});

test('since and until select by whole seconds, inclusive', () => {
  const db = openDatabase(':memory:');
  const bus = new EventBus({ db });
  bus.publish('volume', 'create', 'v1');
  const now = Math.floor(Date.now() / 1000);
  assert.equal(bus.since(now - 1, now + 1).length, 1);
  assert.equal(bus.since(now + 2).length, 0);
  assert.equal(bus.since(0, now - 2).length, 0);
  db.close();
});

test('without a database, history is the last `keep` events in memory', () => {
  const bus = new EventBus({ keep: 3 });
  for (let i = 0; i < 5; i++) bus.publish('image', 'pull', `i${i}`);
  assert.deepEqual(bus.since(0).map((e) => e.Actor.ID), ['i2', 'i3', 'i4']);
});
