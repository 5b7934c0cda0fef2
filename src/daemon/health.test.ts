import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatDuration, healthActionError, healthActionOf, healthConfigError, HealthSettings, healthSettings, healthStatusSuffix, initialHealth,
  MAX_LOG_ENTRIES, MAX_OUTPUT_BYTES, mergeHealthcheck, nextHealth, nextProbeDelay, timeoutResult,
} from './health';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (ms: number, code: number) => ({ Start: new Date(T0 + ms).toISOString(), End: new Date(T0 + ms + 5).toISOString(), ExitCode: code, Output: `o${ms}` });
const S: HealthSettings = { args: ['true'], intervalMs: 1000, timeoutMs: 500, startPeriodMs: 0, startIntervalMs: 100, retries: 3 };

describe('health check decisions', () => {
  test('settings: CMD, CMD-SHELL, NONE, defaults', () => {
    assert.deepEqual(healthSettings({ Test: ['CMD', 'cat', '/ok'] })?.args, ['cat', '/ok']);
    assert.deepEqual(healthSettings({ Test: ['CMD-SHELL', 'test -e /ok'] })?.args, ['/bin/sh', '-c', 'test -e /ok']);
    assert.equal(healthSettings({ Test: ['NONE'] }), undefined);
    assert.equal(healthSettings({ Test: [] }), undefined);
    assert.equal(healthSettings(undefined), undefined);
    assert.equal(healthSettings({ Test: ['CMD'] }), undefined);
    const d = healthSettings({ Test: ['CMD', 'x'] })!;
    assert.deepEqual([d.intervalMs, d.timeoutMs, d.startPeriodMs, d.startIntervalMs, d.retries], [30_000, 30_000, 0, 5_000, 3]);
    const c = healthSettings({ Test: ['CMD', 'x'], Interval: 200e6, Timeout: 1e9, StartPeriod: 2e9, StartInterval: 50e6, Retries: 2 })!;
    assert.deepEqual([c.intervalMs, c.timeoutMs, c.startPeriodMs, c.startIntervalMs, c.retries], [200, 1000, 2000, 50, 2]);
  });

  test('merge with the image: empty test and zero values inherit', () => {
    const img = { Test: ['CMD', 'img'], Interval: 5e9, Retries: 7 };
    assert.deepEqual(mergeHealthcheck(undefined, img), img);
    assert.deepEqual(mergeHealthcheck({ Test: ['NONE'] }, img)?.Test, ['NONE']);
    const m = mergeHealthcheck({ Interval: 1e9 }, img)!;
    assert.deepEqual([m.Test, m.Interval, m.Retries], [['CMD', 'img'], 1e9, 7]);
    assert.equal(mergeHealthcheck(undefined, undefined), undefined);
  });

  test('transitions: success heals at once, retries failures make unhealthy', () => {
    let h = initialHealth();
    h = nextHealth(h, at(0, 1), S, T0);
    assert.deepEqual([h.status, h.failingStreak], ['starting', 1]);
    h = nextHealth(h, at(1, 0), S, T0);
    assert.deepEqual([h.status, h.failingStreak], ['healthy', 0]);
    h = nextHealth(h, at(2, 1), S, T0);
    h = nextHealth(h, at(3, 2), S, T0);
    assert.deepEqual([h.status, h.failingStreak], ['healthy', 2]);
    h = nextHealth(h, at(4, -1), S, T0);
    assert.deepEqual([h.status, h.failingStreak], ['unhealthy', 3]);
    h = nextHealth(h, at(5, 1), S, T0);
    assert.deepEqual([h.status, h.failingStreak], ['unhealthy', 4]);
    h = nextHealth(h, at(6, 0), S, T0);
    assert.deepEqual([h.status, h.failingStreak], ['healthy', 0]);
    assert.equal(h.log.length, MAX_LOG_ENTRIES);
    assert.equal(h.log.at(-1)?.Output, 'o6');
  });

  test('start period: failures while starting do not count; after a success they do', () => {
    const s = { ...S, startPeriodMs: 1000, retries: 1 };
    let h = nextHealth(initialHealth(), at(500, 1), s, T0);
    assert.deepEqual([h.status, h.failingStreak], ['starting', 0]);
    h = nextHealth(h, at(1000, 1), s, T0);
    assert.deepEqual([h.status, h.failingStreak], ['unhealthy', 1]);
    const healed = nextHealth(nextHealth(initialHealth(), at(100, 0), s, T0), at(200, 1), s, T0);
    assert.deepEqual([healed.status, healed.failingStreak], ['unhealthy', 1]);
  });

  test('schedule: start interval inside the start period while starting', () => {
    const s = { ...S, startPeriodMs: 1000 };
    assert.equal(nextProbeDelay(initialHealth(), s, T0, T0 + 10), 100);
    assert.equal(nextProbeDelay(initialHealth(), s, T0, T0 + 1000), 1000);
    assert.equal(nextProbeDelay({ status: 'healthy', failingStreak: 0, log: [] }, s, T0, T0 + 10), 1000);
    assert.equal(nextProbeDelay(initialHealth(), S, T0, T0), 1000);
  });

  test('output is capped, timeouts read as Docker words them', () => {
    const h = nextHealth(initialHealth(), { ...at(0, 1), Output: 'x'.repeat(10_000) }, S, T0);
    assert.equal(h.log[0].Output.length, MAX_OUTPUT_BYTES);
    const t = timeoutResult(new Date(T0), new Date(T0 + 200), 200);
    assert.deepEqual([t.ExitCode, t.Output], [-1, 'Health check exceeded timeout (200ms)']);
    assert.deepEqual([formatDuration(1000), formatDuration(1500), formatDuration(90_000)], ['1s', '1.5s', '1m30s']);
  });

  test('ps suffix, on-failure label, validation', () => {
    assert.equal(healthStatusSuffix(undefined), '');
    assert.equal(healthStatusSuffix(initialHealth()), ' (health: starting)');
    assert.equal(healthStatusSuffix({ status: 'unhealthy', failingStreak: 3, log: [] }), ' (unhealthy)');
    assert.equal(healthActionOf({ 'berth.health-on-failure': 'restart' }), 'restart');
    assert.equal(healthActionOf({ 'berth.health-on-failure': 'bogus' }), 'none');
    assert.equal(healthActionOf(null), 'none');
    assert.match(healthActionError({ 'berth.health-on-failure': 'bogus' }) ?? '', /none, kill, restart or stop/);
    assert.equal(healthActionError({ 'berth.health-on-failure': 'stop' }), undefined);
    assert.equal(healthConfigError({ Test: ['CMD', 'x'], Interval: 1000 }), 'Interval in Healthcheck cannot be less than 1ms');
    assert.equal(healthConfigError({ Test: ['CMD', 'x'], Retries: -1 }), 'Retries in Healthcheck cannot be negative');
    assert.equal(healthConfigError({ Test: ['FOO'] }), "unknown Healthcheck type 'FOO'");
    assert.equal(healthConfigError({ Test: ['CMD-SHELL', 'x'], Interval: 200e6 }), undefined);
  });
});
