import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, formatExposition, Histogram } from './prometheus';

test('formats HELP, TYPE and samples with escaped label values', () => {
  const text = formatExposition([{ name: 'berth_x', help: 'a \\ b\nc', type: 'gauge', samples: [
    { value: 1 }, { labels: { name: 'q"u\\o\nte' }, value: 2.5 }, { labels: { a: 'b' }, value: Infinity }, { value: NaN },
  ] }]);
  assert.equal(text, '# HELP berth_x a \\\\ b\\nc\n# TYPE berth_x gauge\nberth_x 1\nberth_x{name="q\\"u\\\\o\\nte"} 2.5\nberth_x{a="b"} +Inf\nberth_x NaN\n');
});

test('rejects invalid metric and label names', () => {
  assert.throws(() => formatExposition([{ name: '1bad', help: '', type: 'gauge', samples: [] }]));
  assert.throws(() => formatExposition([{ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { 'a-b': 'x' }, value: 1 }] }]));
  assert.throws(() => formatExposition([{ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { __r: 'x' }, value: 1 }] }]));
});

test('counter sums by label values', () => {
  const c = new Counter('berth_req_total', 'reqs', ['method', 'code']);
  c.inc(['GET', '200']);
  c.inc(['GET', '200']);
  c.inc(['POST', '500'], 3);
  assert.equal(formatExposition([c.collect()]),
    '# HELP berth_req_total reqs\n# TYPE berth_req_total counter\nberth_req_total{method="GET",code="200"} 2\nberth_req_total{method="POST",code="500"} 3\n');
});

test('histogram buckets are cumulative and end with +Inf, _sum and _count', () => {
  const h = new Histogram('berth_d_seconds', 'd', ['route'], [0.1, 1]);
  h.observe(['/a'], 0.05);
  h.observe(['/a'], 0.5);
  h.observe(['/a'], 3);
  assert.equal(formatExposition([h.collect()]), [
    '# HELP berth_d_seconds d', '# TYPE berth_d_seconds histogram',
    'berth_d_seconds_bucket{route="/a",le="0.1"} 1', 'berth_d_seconds_bucket{route="/a",le="1"} 2',
    'berth_d_seconds_bucket{route="/a",le="+Inf"} 3', 'berth_d_seconds_sum{route="/a"} 3.55', 'berth_d_seconds_count{route="/a"} 3', '',
  ].join('\n'));
});
