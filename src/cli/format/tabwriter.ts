/**
 * Column alignment as Go's text/tabwriter with docker's settings (minwidth 10, tabwidth 1,
 * padding 3, padchar ' ', no flags): every tab-terminated cell is padded to its column's width;
 * the text after the last tab of a line is not part of any column. Columns are aligned across
 * consecutive lines that have that cell (a "column block"), as tabwriter does.
 */
export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  const lines = text.split('\n');
  const rows = lines.map((l) => l.split('\t'));
  const width = (s: string) => [...s].length;
  const widths: number[][] = rows.map((r) => new Array(Math.max(0, r.length - 1)).fill(0));
  // Per column index, find blocks of consecutive rows having that cell, and size each block.
  const maxCols = Math.max(0, ...rows.map((r) => r.length - 1));
  for (let c = 0; c < maxCols; c++) {
    let r = 0;
    while (r < rows.length) {
      if (rows[r].length - 1 <= c) { r++; continue; }
      const start = r;
      let w = 0;
      while (r < rows.length && rows[r].length - 1 > c) { w = Math.max(w, width(rows[r][c]) + padding); r++; }
      // A column of only empty cells stays empty width-wise in tabwriter only with DiscardEmptyColumns.
      w = Math.max(w, minwidth);
      for (let k = start; k < r; k++) widths[k][c] = w;
    }
  }
  return rows.map((r, i) => r.map((cell, c) => (c < r.length - 1 ? cell + ' '.repeat(widths[i][c] - width(cell)) : cell)).join('')).join('\n');
}
