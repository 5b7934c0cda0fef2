import { invalidArgument } from './errors';

/**
 * One CSV record as Go's encoding/csv reads it: fields separated by commas, a field starting with
 * `"` is quoted (`""` is a quote inside it), a quote elsewhere is an error.
 */
export function csvFields(line: string, what = 'parse error'): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let f = '';
      i++;
      for (;;) {
        if (i >= line.length) throw invalidArgument(`${what}: extraneous or missing " in quoted-field`);
        if (line[i] === '"') {
          if (line[i + 1] === '"') { f += '"'; i += 2; continue; }
          i++;
          break;
        }
        f += line[i++];
      }
      if (i < line.length && line[i] !== ',') throw invalidArgument(`${what}: extraneous or missing " in quoted-field`);
      out.push(f);
    } else {
      const end = line.indexOf(',', i);
      const f = end < 0 ? line.slice(i) : line.slice(i, end);
      if (f.includes('"')) throw invalidArgument(`${what}: bare " in non-quoted-field`);
      out.push(f);
      i = end < 0 ? line.length : end;
    }
    if (i >= line.length) break;
    i++; // the comma
  }
  return out;
}

