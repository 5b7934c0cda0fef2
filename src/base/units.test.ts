import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration, humanSize } from './units';

test('humanDuration matches go-units', () => {
  assert.equal(humanDuration(500), 'Less than a second');
  assert.equal(humanDuration(1000), '1 second');
  assert.equal(humanDuration(45_000), '45 seconds');
  assert.equal(humanDuration(60_000), 'About a minute');
  assert.equal(humanDuration(47 * 60_000), '47 minutes');
  assert.equal(humanDuration(3600_000), 'About an hour');
  assert.equal(humanDuration(5 * 3600_000), '5 hours');
  assert.equal(humanDuration(3 * 24 * 3600_000), '3 days');
});

test('humanSize matches go-units HumanSizeWithPrecision(3)', () => {
  assert.equal(humanSize(0), '0B');
  assert.equal(humanSize(512), '512B');
  assert.equal(humanSize(1200), '1.2kB');
  assert.equal(humanSize(4_261_000), '4.26MB');
  assert.equal(humanSize(1_000_000), '1MB');
  assert.equal(humanSize(123_456_789), '123MB');
});
