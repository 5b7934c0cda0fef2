// Parser for Go's text/template: tokens -> a tree of nodes, as text/template/parse does.
import { lex, parseError, type Token } from './lex';

export type Node =
  | { kind: 'text'; text: string; pos: number }
  | { kind: 'action'; pipe: Pipe; pos: number }
  | ControlNode
  | { kind: 'break' | 'continue'; pos: number }
  | { kind: 'template'; name: string; pipe: Pipe | null; pos: number };

export interface ControlNode { kind: 'if' | 'with' | 'range'; pipe: Pipe; list: Node[]; elseList: Node[] | null; pos: number }
export interface Pipe { decl: string[]; isAssign: boolean; cmds: Command[]; pos: number; src: string }
export interface Command { args: Arg[]; pos: number; src: string }

export type Arg =
  | { kind: 'field'; ident: string[]; pos: number; src: string }
  | { kind: 'variable'; ident: string[]; pos: number; src: string }
  | { kind: 'chain'; node: Arg; field: string[]; pos: number; src: string }
  | { kind: 'identifier'; name: string; pos: number; src: string }
  | { kind: 'dot'; pos: number; src: string }
  | { kind: 'nil'; pos: number; src: string }
  | { kind: 'bool'; value: boolean; pos: number; src: string }
  | { kind: 'number'; value: number; isInt: boolean; pos: number; src: string }
  | { kind: 'string'; value: string; pos: number; src: string }
  | { kind: 'pipe'; pipe: Pipe; pos: number; src: string };

export interface Tree { root: Node[]; defines: Map<string, Node[]>; src: string; name: string }

/** Parses `src`; `funcs` is the set of defined function names (unknown ones are a parse error, as in Go). */
export function parse(src: string, funcs: Set<string>, name = ''): Tree {
  const toks = lex(src, name);
  let i = 0;
  const defines = new Map<string, Node[]>();
  const vars: string[][] = [['$']];
  const err = (pos: number, msg: string) => parseError(src, pos, msg, name);
  const peek = () => toks[i];
  const next = () => toks[i++];
  const peekNonSpace = () => { let j = i; while (toks[j].type === 'space') j++; return toks[j]; };
  const nextNonSpace = () => { while (toks[i].type === 'space') i++; return toks[i++]; };
  let rangeDepth = 0;

  const unquote = (t: Token): string => {
    if (t.type === 'rawstring') return t.val.slice(1, -1);
    try {
      return JSON.parse(t.val.replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1').replace(/\\a/g, '\\u0007').replace(/\\v/g, '\\u000b').replace(/\\'/g, "'")) as string;
    } catch { throw err(t.pos, `bad string syntax: ${t.val}`); }
  };

  function checkVar(t: Token): void {
    const name = t.val;
    if (!vars.some((scope) => scope.includes(name))) throw err(t.pos, `undefined variable "${name}"`);
  }

  function term(): Arg | null {
    const t = nextNonSpace();
    const base = { pos: t.pos, src: t.val };
    switch (t.type) {
      case 'ident':
        if (!funcs.has(t.val)) throw err(t.pos, `function "${t.val}" not defined`);
        return { kind: 'identifier', name: t.val, ...base };
      case 'dot': return { kind: 'dot', ...base };
      case 'nil': return { kind: 'nil', ...base };
      case 'variable': checkVar(t); return { kind: 'variable', ident: [t.val], ...base };
      case 'field': return { kind: 'field', ident: [t.val.slice(1)], ...base };
      case 'bool': return { kind: 'bool', value: t.val === 'true', ...base };
      case 'char': {
        const s = t.val.slice(1, -1);
        const ch = s.startsWith('\\') ? (JSON.parse(`"${s}"`) as string) : s;
        return { kind: 'number', value: ch.codePointAt(0) ?? 0, isInt: true, ...base };
      }
      case 'number': {
        const clean = t.val.replace(/_/g, '');
        let value: number;
        if (/^[+-]?0[xX]/.test(clean)) value = parseInt(clean, 16);
        else if (/^[+-]?0[bB]/.test(clean)) value = parseInt(clean.replace(/0[bB]/, ''), 2);
        else if (/^[+-]?0[oO]/.test(clean)) value = parseInt(clean.replace(/0[oO]/, ''), 8);
        else value = Number(clean);
        if (Number.isNaN(value)) throw err(t.pos, `bad number syntax: "${t.val}"`);
        return { kind: 'number', value, isInt: !/[.eE]/.test(clean) || /^[+-]?0[xX]/.test(clean), ...base };
      }
      case 'string': case 'rawstring': return { kind: 'string', value: unquote(t), ...base };
      case 'lparen': {
        const p = pipeline('parenthesized pipeline', 'rparen');
        return { kind: 'pipe', pipe: p, pos: t.pos, src: `(${p.src})` };
      }
      default:
        i--;
        return null;
    }
  }

  function operand(): Arg | null {
    let node = term();
    if (!node) return null;
    if (peek().type === 'field') {
      const fields: string[] = [];
      while (peek().type === 'field') fields.push(next().val.slice(1));
      const src = node.src + fields.map((f) => `.${f}`).join('');
      switch (node.kind) {
        case 'field': node = { ...node, ident: [...node.ident, ...fields], src }; break;
        case 'variable': node = { ...node, ident: [...node.ident, ...fields], src }; break;
        case 'bool': case 'string': case 'number': case 'nil': case 'dot':
          throw err(node.pos, `unexpected . after term "${node.src}"`);
        default: node = { kind: 'chain', node, field: fields, pos: node.pos, src };
      }
    }
    return node;
  }

  function command(end: 'right' | 'rparen'): Command {
    const args: Arg[] = [];
    const pos = peekNonSpace().pos;
    for (;;) {
      const op = operand();
      if (op) args.push(op);
      const t = peek();
      if (t.type === 'space') { i++; const n = peek(); if (n.type === 'pipe' || n.type === end) break; continue; }
      if (t.type === end || t.type === 'pipe') break;
      if (t.type === 'eof') throw err(t.pos, 'unclosed action');
      if (!op) throw err(t.pos, `unexpected "${t.val}" in operand`);
      throw err(t.pos, `unexpected "${t.val}" in operand`);
    }
    if (!args.length) throw err(pos, 'empty command');
    return { args, pos, src: args.map((a) => a.src).join(' ') };
  }

  function pipeline(context: string, end: 'right' | 'rparen', allowDecl = true): Pipe {
    const start = peekNonSpace();
    const decl: string[] = [];
    let isAssign = false;
    // Declarations: "$x :=", "$x =", "$i, $v :=" (range only).
    if (allowDecl && start.type === 'variable') {
      const save = i;
      nextNonSpace();
      const t = peekNonSpace();
      if (t.type === 'declare' || t.type === 'assign') {
        nextNonSpace();
        decl.push(start.val);
        isAssign = t.type === 'assign';
        if (isAssign) checkVar(start);
      } else if (t.type === 'comma' && context === 'range') {
        nextNonSpace();
        const v2 = nextNonSpace();
        if (v2.type !== 'variable') throw err(v2.pos, `range can only initialize variables`);
        const d = nextNonSpace();
        if (d.type !== 'declare' && d.type !== 'assign') throw err(d.pos, `expected := or = in range`);
        decl.push(start.val, v2.val);
        isAssign = d.type === 'assign';
      } else {
        i = save;
      }
      if (!isAssign) for (const d of decl) vars[vars.length - 1].push(d);
    }
    const cmds: Command[] = [];
    for (;;) {
      const t = peekNonSpace();
      if (t.type === end) { nextNonSpace(); break; }
      if (t.type === 'eof' || (end === 'rparen' && t.type === 'right')) throw err(t.pos, end === 'rparen' ? 'unclosed left paren' : 'unclosed action');
      if (t.type === 'pipe') {
        if (!cmds.length) throw err(t.pos, `missing command`);
        nextNonSpace();
        continue;
      }
      cmds.push(command(end));
    }
    if (!cmds.length) throw err(start.pos, `missing value for ${context}`);
    for (const c of cmds.slice(1)) {
      const a = c.args[0];
      if (a.kind === 'bool' || a.kind === 'dot' || a.kind === 'nil' || a.kind === 'number' || a.kind === 'string') {
        throw err(a.pos, `non executable command in pipeline stage ${cmds.indexOf(c) + 1}`);
      }
    }
    const srcText = (decl.length ? `${decl.join(', ')} ${isAssign ? '=' : ':='} ` : '') + cmds.map((c) => c.src).join(' | ');
    return { decl, isAssign, cmds, pos: start.pos, src: srcText };
  }

  // Parses nodes until {{end}} / {{else}} (returned) or EOF (returns 'eof').
  function list(): { nodes: Node[]; stop: 'end' | 'else' | 'eof'; pos: number } {
    const nodes: Node[] = [];
    for (;;) {
      const t = next();
      if (t.type === 'eof') return { nodes, stop: 'eof', pos: t.pos };
      if (t.type === 'text') { nodes.push({ kind: 'text', text: t.val, pos: t.pos }); continue; }
      // left delimiter
      const k = peekNonSpace();
      if (k.type === 'keyword') {
        switch (k.val) {
          case 'end': nextNonSpace(); expectRight('end'); return { nodes, stop: 'end', pos: k.pos };
          case 'else': nextNonSpace(); return { nodes, stop: 'else', pos: k.pos };
          case 'if': case 'with': case 'range': nextNonSpace(); nodes.push(control(k.val, k.pos)); continue;
          case 'break': case 'continue':
            nextNonSpace();
            if (rangeDepth === 0) throw err(k.pos, `{{${k.val}}} outside {{range}}`);
            expectRight(k.val);
            nodes.push({ kind: k.val, pos: k.pos });
            continue;
          case 'define': {
            nextNonSpace();
            const n = nextNonSpace();
            if (n.type !== 'string' && n.type !== 'rawstring') throw err(n.pos, 'expected name in define clause');
            expectRight('define clause');
            const body = list();
            if (body.stop !== 'end') throw err(n.pos, 'unexpected EOF');
            defines.set(unquote(n), body.nodes);
            continue;
          }
          case 'template': case 'block': {
            nextNonSpace();
            const n = nextNonSpace();
            if (n.type !== 'string' && n.type !== 'rawstring') throw err(n.pos, `unexpected "${n.val}" in template clause`);
            let pipe: Pipe | null = null;
            if (peekNonSpace().type !== 'right') pipe = pipeline(`template clause`, 'right');
            else nextNonSpace();
            const tname = unquote(n);
            if (k.val === 'block') {
              const body = list();
              if (body.stop !== 'end') throw err(n.pos, 'unexpected EOF');
              defines.set(tname, body.nodes);
            }
            nodes.push({ kind: 'template', name: tname, pipe, pos: k.pos });
            continue;
          }
        }
      }
      const p = pipeline('command', 'right');
      nodes.push({ kind: 'action', pipe: p, pos: p.pos });
    }
  }

  function expectRight(context: string): void {
    const t = nextNonSpace();
    if (t.type !== 'right') throw err(t.pos, `unexpected "${t.val}" in ${context}`);
  }

  function control(kind: 'if' | 'with' | 'range', pos: number): Node {
    vars.push([]);
    const pipe = pipeline(kind, 'right');
    if (kind === 'range') rangeDepth++;
    const body = list();
    if (kind === 'range') rangeDepth--;
    let elseList: Node[] | null = null;
    if (body.stop === 'eof') throw err(body.pos, 'unexpected EOF');
    if (body.stop === 'else') {
      const k = peekNonSpace();
      if ((kind === 'if' || kind === 'with') && k.type === 'keyword' && k.val === kind) {
        // "else if" / "else with": a nested control sharing our {{end}}.
        nextNonSpace();
        elseList = [control(kind, k.pos)];
      } else {
        expectRight('else');
        const e = list();
        if (e.stop === 'else') throw err(e.pos, `expected end; found {{else}}`);
        if (e.stop === 'eof') throw err(e.pos, 'unexpected EOF');
        elseList = e.nodes;
      }
    }
    vars.pop();
    return { kind, pipe, list: body.nodes, elseList, pos };
  }

  const top = list();
  if (top.stop === 'end') throw err(top.pos, 'unexpected {{end}}');
  if (top.stop === 'else') throw err(top.pos, 'unexpected {{else}}');
  return { root: top.nodes, defines, src, name };
}
