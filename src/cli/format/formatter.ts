// Docker's --format handling: "table ..." (aligned, with a header), "json" (one JSON object per
// line), or a plain Go template executed once per row.
import { Template, type ExecuteOptions, type TemplateFunc } from '../template/template';
import { goJSON } from '../template/funcs';
import { tabwrite } from './tabwriter';

export const JSON_FORMAT = 'json';

export function isTable(format: string): boolean { return format.startsWith('table'); }

/** docker's preFormat: strip "table", trim spaces, turn the two-character `\t` and `\n` into real ones. */
export function prepareFormat(format: string): string {
  let f = isTable(format) ? format.slice('table'.length) : format;
  f = f.replace(/^ +| +$/g, '');
  return f.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

/** Reports a template error the way docker does. */
export class FormatError extends Error {}

/** docker's templates.HeaderFunctions: in a table header these functions leave the title as it is. */
const HEADER_FUNCS: Record<string, TemplateFunc> = {
  json: (v) => v, split: (v) => v, join: (v) => v, title: (v) => v, lower: (v) => v, upper: (v) => v, pad: (v) => v, truncate: (v) => v,
};

/** docker's SubHeaderContext.Label: a label column's title is the label's last dotted part, '-' and '_' as spaces. */
function headerLabel(name: string): string {
  return String(name).split('.').at(-1)!.replace(/[-_]/g, ' ');
}

export function compileFormat(format: string, funcs: Record<string, TemplateFunc> = {}): Template {
  try {
    return Template.compile(format, funcs);
  } catch (e) {
    throw new FormatError(`template parsing error: ${(e as Error).message}`);
  }
}

/**
 * Renders rows with a format. `header` maps field names to column titles (docker's header
 * context, a map[string]string in docker: fields without a title print as "").
 * Returns the whole output (each row followed by a newline), or throws FormatError.
 */
export function renderRows(format: string, rows: object[], header: Record<string, string>, defaultTable: string): string {
  if (format === JSON_FORMAT) return rows.map((r) => goJSON(r) + '\n').join('');
  if (format === 'table' || format === '') format = defaultTable;
  const table = isTable(format);
  const tmpl = compileFormat(prepareFormat(format));
  let out = '';
  const opts: ExecuteOptions = {};
  try {
    for (const r of rows) out += tmpl.execute(r, opts) + '\n';
    if (table) {
      // docker runs the header through the same template with HEADER_FUNCS and ignores its errors,
      // keeping what it wrote before one (`{{.Label "x"}}` on the header map stops there).
      const head = compileFormat(prepareFormat(format), HEADER_FUNCS).executePartial({ ...header, Label: headerLabel }, { missingKey: 'zero' }).out;
      out = tabwrite(head + '\n' + out);
    }
  } catch (e) {
    throw new FormatError(`template: ${(e as Error).message.replace(/^template: /, '')}`);
  }
  return out;
}

/**
 * renderRows for the list commands whose template failures docker reports as "template parsing
 * error: ..." (its formatter.Context: volume ls, network ls, ...).
 */
export function renderContextRows(format: string, rows: object[], header: Record<string, string>, defaultTable: string): string {
  try {
    return renderRows(format, rows, header, defaultTable);
  } catch (e) {
    if (e instanceof FormatError && e.message.startsWith('template: ')) throw new FormatError(`template parsing error: ${e.message}`);
    throw e;
  }
}

/** Truncates to `max` display columns with "…" as docker's formatter.Ellipsis does. */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  if (max <= 0) return '';
  return chars.slice(0, max - 1).join('') + '…';
}

/**
 * Go's string order (byte order), which docker's sorted output follows. Also cheap: localeCompare
 * initialises ICU's collator, ~20 ms on a CLI's first call.
 */
export const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
