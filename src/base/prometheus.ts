/**
 * The Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): families with HELP and TYPE
 * lines, then one line per sample. Pure: collectors build families, the edge writes the text.
 * Written here rather than taken from prom-client because berth needs only this formatter and a
 * labelled counter and histogram, and its per-container metrics are read at scrape time anyway.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface Sample {
  /** Appended to the family name: `_bucket`, `_sum`, `_count` for histograms, `` otherwise. */
  suffix?: string;
  labels?: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Formats families; throws on an invalid metric or label name (a programming error). */
export function formatExposition(families: MetricFamily[]): string {
  let out = '';
  for (const f of families) {
    if (!NAME.test(f.name)) throw new Error(`invalid metric name ${JSON.stringify(f.name)}`);
    out += `# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.samples) out += `${f.name}${s.suffix ?? ''}${formatLabels(s.labels)} ${formatValue(s.value)}\n`;
  }
  return out;
}

function formatLabels(labels?: Record<string, string>): string {
  const entries = Object.entries(labels ?? {});
  if (!entries.length) return '';
  return '{' + entries.map(([k, v]) => {
    if (!LABEL.test(k) || k.startsWith('__')) throw new Error(`invalid label name ${JSON.stringify(k)}`);
    return `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
  }).join(',') + '}';
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** A counter keyed by label values, in the order of `labelNames`. */
export class Counter {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string, readonly labelNames: string[]) {}

  inc(labelValues: string[], by = 1): void {
    const key = JSON.stringify(labelValues);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  collect(): MetricFamily {
    return {
      name: this.name, help: this.help, type: 'counter',
      samples: [...this.values].map(([key, value]) => ({ labels: zip(this.labelNames, JSON.parse(key) as string[]), value })),
    };
  }
}

/** A histogram keyed by label values, with cumulative `le` buckets (upper bounds, ascending). */
export class Histogram {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly labelNames: string[],
    readonly buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]) {}

  observe(labelValues: string[], v: number): void {
    const key = JSON.stringify(labelValues);
    let s = this.series.get(key);
    if (!s) this.series.set(key, s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 });
    this.buckets.forEach((b, i) => { if (v <= b) s!.counts[i]++; });
    s.sum += v;
    s.count++;
  }

  collect(): MetricFamily {
    const samples: Sample[] = [];
    for (const [key, s] of this.series) {
      const labels = zip(this.labelNames, JSON.parse(key) as string[]);
      this.buckets.forEach((b, i) => samples.push({ suffix: '_bucket', labels: { ...labels, le: formatValue(b) }, value: s.counts[i] }));
      samples.push({ suffix: '_bucket', labels: { ...labels, le: '+Inf' }, value: s.count });
      samples.push({ suffix: '_sum', labels, value: s.sum });
      samples.push({ suffix: '_count', labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: 'histogram', samples };
  }
}

function zip(names: string[], values: string[]): Record<string, string> {
  return Object.fromEntries(names.map((n, i) => [n, values[i] ?? '']));
}
