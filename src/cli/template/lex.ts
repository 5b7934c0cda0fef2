// Lexer for Go's text/template syntax. Produces a flat token list: text, left/right delimiters and
// the tokens inside actions (with their byte offsets, for Go-style "template: :LINE:COL" errors).

export type TokenType =
  | 'text' | 'left' | 'right' | 'space' | 'field' | 'dot' | 'variable' | 'ident' | 'keyword'
  | 'string' | 'rawstring' | 'char' | 'number' | 'bool' | 'nil' | 'pipe' | 'lparen' | 'rparen'
  | 'declare' | 'assign' | 'comma' | 'eof';

export interface Token { type: TokenType; val: string; pos: number }

export const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'break', 'continue', 'define', 'template', 'block']);

export class TemplateError extends Error {
  constructor(message: string) { super(message); this.name = 'TemplateError'; }
}

/** Line number (1-based) of byte offset `pos` in `src`. */
export function lineOf(src: string, pos: number): number {
  let n = 1;
  for (let i = 0; i < pos && i < src.length; i++) if (src[i] === '\n') n++;
  return n;
}

export function parseError(src: string, pos: number, msg: string, name = ''): TemplateError {
  return new TemplateError(`template: ${name}:${lineOf(src, pos)}: ${msg}`);
}

const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlnum = (c: string) => /[A-Za-z0-9_]/.test(c) || c > '\x7f';

export function lex(src: string, name = ''): Token[] {
  const out: Token[] = [];
  let i = 0;
  const err = (pos: number, msg: string) => parseError(src, pos, msg, name);
  while (i < src.length) {
    let open = src.indexOf('{{', i);
    if (open < 0) open = src.length;
    let text = src.slice(i, open);
    // "{{- " trims the white space before the action.
    const trimLeft = open < src.length && src[open + 2] === '-' && isSpace(src[open + 3] ?? '');
    if (trimLeft) text = text.replace(/[ \t\r\n]+$/, '');
    if (text) out.push({ type: 'text', val: text, pos: i });
    if (open >= src.length) break;
    let p = open + 2 + (trimLeft ? 2 : 0);
    // Comments: {{/* ... */}}
    if (src.startsWith('/*', p)) {
      const end = src.indexOf('*/', p + 2);
      if (end < 0) throw err(open, 'unclosed comment');
      let q = end + 2;
      let trimRight = false;
      if (src[q] === ' ' && src[q + 1] === '-' && src.startsWith('}}', q + 2)) { trimRight = true; q += 2; }
      if (!src.startsWith('}}', q)) throw err(open, 'comment ends before closing delimiter');
      i = q + 2;
      if (trimRight) while (i < src.length && isSpace(src[i])) i++;
      continue;
    }
    out.push({ type: 'left', val: '{{', pos: open });
    let parenDepth = 0;
    for (;;) {
      if (p >= src.length) throw err(open, 'unclosed action');
      const c = src[p];
      // " -}}" trims the white space after the action.
      if (isSpace(c) && src[p + 1] === '-' && src.startsWith('}}', p + 2)) {
        out.push({ type: 'right', val: '}}', pos: p + 2 });
        i = p + 4;
        while (i < src.length && isSpace(src[i])) i++;
        break;
      }
      if (src.startsWith('}}', p)) {
        if (parenDepth > 0) throw err(p, 'unclosed left paren');
        out.push({ type: 'right', val: '}}', pos: p });
        i = p + 2;
        break;
      }
      const start = p;
      if (isSpace(c)) {
        while (p < src.length && isSpace(src[p]) && !(src[p + 1] === '-' && src.startsWith('}}', p + 2))) p++;
        if (p === start) p++;
        out.push({ type: 'space', val: src.slice(start, p), pos: start });
      } else if (c === '|') { out.push({ type: 'pipe', val: c, pos: p++ }); }
      else if (c === '(') { parenDepth++; out.push({ type: 'lparen', val: c, pos: p++ }); }
      else if (c === ')') {
        if (--parenDepth < 0) throw err(p, `unexpected right paren`);
        out.push({ type: 'rparen', val: c, pos: p++ });
      }
      else if (c === ',') { out.push({ type: 'comma', val: c, pos: p++ }); }
      else if (c === ':' ) {
        if (src[p + 1] !== '=') throw err(p, 'expected :=');
        out.push({ type: 'declare', val: ':=', pos: p }); p += 2;
      } else if (c === '=') { out.push({ type: 'assign', val: '=', pos: p++ }); }
      else if (c === '"') {
        p++;
        while (p < src.length && src[p] !== '"') {
          if (src[p] === '\\') p++;
          if (src[p] === '\n' || p >= src.length) throw err(start, 'unterminated quoted string');
          p++;
        }
        if (p >= src.length) throw err(start, 'unterminated quoted string');
        p++;
        out.push({ type: 'string', val: src.slice(start, p), pos: start });
      } else if (c === '`') {
        const end = src.indexOf('`', p + 1);
        if (end < 0) throw err(start, 'unterminated raw quoted string');
        p = end + 1;
        out.push({ type: 'rawstring', val: src.slice(start, p), pos: start });
      } else if (c === "'") {
        p++;
        while (p < src.length && src[p] !== "'") { if (src[p] === '\\') p++; p++; }
        if (p >= src.length) throw err(start, 'unterminated character constant');
        p++;
        out.push({ type: 'char', val: src.slice(start, p), pos: start });
      } else if (c === '$') {
        p++;
        while (p < src.length && isAlnum(src[p])) p++;
        out.push({ type: 'variable', val: src.slice(start, p), pos: start });
      } else if (c === '.') {
        if (/[0-9]/.test(src[p + 1] ?? '')) {
          p = lexNumber(src, p);
          out.push({ type: 'number', val: src.slice(start, p), pos: start });
        } else {
          p++;
          while (p < src.length && isAlnum(src[p])) p++;
          out.push(p === start + 1 ? { type: 'dot', val: '.', pos: start } : { type: 'field', val: src.slice(start, p), pos: start });
        }
      } else if (/[0-9+-]/.test(c)) {
        p = lexNumber(src, p);
        if (p === start) throw err(start, `bad character ${JSON.stringify(c)}`);
        out.push({ type: 'number', val: src.slice(start, p), pos: start });
      } else if (isAlnum(c)) {
        while (p < src.length && isAlnum(src[p])) p++;
        const w = src.slice(start, p);
        const type: TokenType = KEYWORDS.has(w) ? 'keyword' : w === 'true' || w === 'false' ? 'bool' : w === 'nil' ? 'nil' : 'ident';
        out.push({ type, val: w, pos: start });
      } else {
        throw err(p, `unexpected ${JSON.stringify(c)} in command`);
      }
    }
  }
  out.push({ type: 'eof', val: '', pos: src.length });
  return out;
}

function lexNumber(src: string, p: number): number {
  const m = /^[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(\d[\d_]*)?\.?\d*([eE][+-]?\d+)?)/.exec(src.slice(p));
  return p + (m ? m[0].length : 0);
}
