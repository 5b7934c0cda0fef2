import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration, humanSizeWithPrecision } from './units';

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
  assert.equal(humanSizeWithPrecision(0, 3), '0B');
  assert.equal(humanSizeWithPrecision(512, 3), '512B');
  assert.equal(humanSizeWithPrecision(1200, 3), '1.2kB');
  assert.equal(humanSizeWithPrecision(4_261_000, 3), '4.26MB');
  assert.equal(humanSizeWithPrecision(1_000_000, 3), '1MB');
  assert.equal(humanSizeWithPrecision(123_456_789, 3), '123MB');
});
