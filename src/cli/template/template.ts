// A Go text/template engine: the language docker's --format flags speak.
// compile() parses once; execute() runs against data (JSON-shaped values, or objects whose getters
// and methods play Go struct fields and methods).
import { lineOf, TemplateError } from './lex';
import { parse, type ControlNode, type Arg, type Command, type Node, type Pipe, type Tree } from './parse';
import { BUILTINS, FuncError, truth, type TemplateFunc } from './funcs';
import { NO_VALUE, formatValue, goTypeName, isMap } from './go-fmt';

export { TemplateError } from './lex';
export { NO_VALUE } from './go-fmt';
export type { TemplateFunc } from './funcs';

export interface ExecuteOptions {
  /**
   * 'default': a missing map key is "<no value>"; 'zero': it is "" (Go's map[string]string behaviour);
   * 'error': it fails, as Go's missingkey=error (docker inspect's fallback to the raw JSON uses it).
   */
  missingKey?: 'default' | 'zero' | 'error';
}

const BREAK = Symbol('break');
const CONTINUE = Symbol('continue');

export class Template {
  private constructor(private readonly tree: Tree, private readonly funcs: Record<string, TemplateFunc>) {}

  /** Parses `src`. Throws TemplateError with Go's wording ("template: :1: function \"x\" not defined"). */
  static compile(src: string, extraFuncs: Record<string, TemplateFunc> = {}, name = ''): Template {
    const funcs = { ...BUILTINS, ...extraFuncs };
    return new Template(parse(src, new Set(Object.keys(funcs)), name), funcs);
  }

  execute(data: unknown, options: ExecuteOptions = {}): string {
    const ex = new Executor(this.tree, this.funcs, options);
    ex.vars.push({ name: '$', value: data });
    ex.walkList(data, this.tree.root);
    return ex.out.join('');
  }

  /** Like Go's Execute into a buffer: what was written before an error is kept, and the error returned. */
  executePartial(data: unknown, options: ExecuteOptions = {}): { out: string; error?: Error } {
    const ex = new Executor(this.tree, this.funcs, options);
    ex.vars.push({ name: '$', value: data });
    try { ex.walkList(data, this.tree.root); } catch (e) { return { out: ex.out.join(''), error: e as Error }; }
    return { out: ex.out.join('') };
  }
}

class Executor {
  out: string[] = [];
  vars: { name: string; value: unknown }[] = [];
  private at = '';
  private atPos = 0;

  constructor(private readonly tree: Tree, private readonly funcs: Record<string, TemplateFunc>, private readonly opts: ExecuteOptions) {}

  private fail(msg: string): never {
    const { src, name } = this.tree;
    const line = lineOf(src, this.atPos);
    const col = this.atPos - (src.lastIndexOf('\n', this.atPos - 1) + 1);
    throw new TemplateError(`template: ${name}:${line}:${col}: executing "${name}" at <${this.at}>: ${msg}`);
  }
  private mark(node: { pos: number; src: string }): void { this.at = node.src; this.atPos = node.pos; }

  walkList(dot: unknown, nodes: Node[]): void {
    for (const n of nodes) this.walk(dot, n);
  }

  private walk(dot: unknown, node: Node): void {
    switch (node.kind) {
      case 'text': this.out.push(node.text); return;
      case 'action': {
        const v = this.evalPipeline(dot, node.pipe);
        if (!node.pipe.decl.length) this.out.push(this.printable(v));
        return;
      }
      case 'if': case 'with': {
        const mark = this.vars.length;
        const v = this.evalPipeline(dot, node.pipe);
        if (truth(v)) this.walkList(node.kind === 'with' ? v : dot, node.list);
        else if (node.elseList) this.walkList(dot, node.elseList);
        this.vars.length = mark;
        return;
      }
      case 'range': this.walkRange(dot, node); return;
      case 'break': throw BREAK;
      case 'continue': throw CONTINUE;
      case 'template': {
        const body = this.tree.defines.get(node.name);
        if (!body) { this.atPos = node.pos; this.at = `template "${node.name}"`; this.fail(`template "${node.name}" not defined`); }
        const newDot = node.pipe ? this.evalPipeline(dot, node.pipe) : null;
        const saved = this.vars;
        this.vars = [{ name: '$', value: newDot }];
        this.walkList(newDot, body);
        this.vars = saved;
        return;
      }
    }
  }

  private printable(v: unknown): string {
    if (typeof v === 'function') this.fail(`can't print value of type func`);
    return formatValue(v);
  }

  private walkRange(dot: unknown, node: ControlNode): void {
    const mark = this.vars.length;
    const val = this.evalPipeline(dot, { ...node.pipe, decl: [] });
    const items: [unknown, unknown][] = [];
    if (Array.isArray(val)) val.forEach((x, i) => items.push([i, x]));
    else if (isMap(val)) for (const k of Object.keys(val).sort()) items.push([k, val[k]]);
    else if (typeof val === 'number' && Number.isInteger(val)) for (let i = 0; i < val; i++) items.push([i, i]);
    else if (val === null || val === undefined || val === NO_VALUE) { /* nothing */ }
    else if (typeof val === 'function') {
      this.mark(node.pipe); this.fail(`range can't iterate over ${goTypeName(val)}`);
    } else { this.mark(node.pipe); this.fail(`range can't iterate over ${formatValue(val)}`); }
    for (const [k, v] of items) {
      const inner = this.vars.length;
      const decl = node.pipe.decl;
      if (decl.length === 1) this.setVar(decl[0], v, node.pipe.isAssign);
      else if (decl.length === 2) { this.setVar(decl[0], k, node.pipe.isAssign); this.setVar(decl[1], v, node.pipe.isAssign); }
      try {
        this.walkList(v, node.list);
      } catch (e) {
        if (e === BREAK) { this.vars.length = inner; break; }
        if (e !== CONTINUE) throw e;
      }
      this.vars.length = inner;
    }
    if (!items.length && node.elseList) this.walkList(dot, node.elseList);
    this.vars.length = mark;
  }

  private setVar(name: string, value: unknown, assign: boolean): void {
    if (assign) {
      for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i].name === name) { this.vars[i].value = value; return; }
      this.fail(`undefined variable: ${name}`);
    }
    this.vars.push({ name, value });
  }

  private getVar(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i].name === name) return this.vars[i].value;
    return this.fail(`undefined variable: ${name}`);
  }

  private evalPipeline(dot: unknown, pipe: Pipe): unknown {
    let value: unknown = undefined;
    let hasFinal = false;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, hasFinal, value);
      hasFinal = true;
    }
    for (const d of pipe.decl) this.setVar(d, value, pipe.isAssign);
    return value;
  }

  private evalCommand(dot: unknown, cmd: Command, hasFinal: boolean, final: unknown): unknown {
    const first = cmd.args[0];
    const rest = cmd.args.slice(1);
    this.mark(first);
    switch (first.kind) {
      case 'field': return this.evalFieldChain(dot, dot, first, first.ident, rest, hasFinal, final);
      case 'chain': {
        const base = this.evalArg(dot, first.node);
        return this.evalFieldChain(dot, base, first, first.field, rest, hasFinal, final);
      }
      case 'variable': {
        const v = this.getVar(first.ident[0]);
        if (first.ident.length === 1) { this.notAFunction(rest, hasFinal, first.src); return v; }
        return this.evalFieldChain(dot, v, first, first.ident.slice(1), rest, hasFinal, final);
      }
      case 'identifier': return this.evalFunction(dot, first, rest, hasFinal, final, { pos: first.pos, src: cmd.src });
      case 'pipe': this.notAFunction(rest, hasFinal, first.src); return this.evalPipeline(dot, first.pipe);
      default:
        this.notAFunction(rest, hasFinal, first.src);
        return this.evalArg(dot, first);
    }
  }

  private notAFunction(args: Arg[], hasFinal: boolean, what: string): void {
    if (args.length || hasFinal) this.fail(`can't give argument to non-function ${what}`);
  }

  private evalArg(dot: unknown, arg: Arg): unknown {
    this.mark(arg);
    switch (arg.kind) {
      case 'dot': return dot;
      case 'nil': return null;
      case 'bool': return arg.value;
      case 'number': return arg.value;
      case 'string': return arg.value;
      case 'field': return this.evalFieldChain(dot, dot, arg, arg.ident, [], false, undefined);
      case 'variable': {
        const v = this.getVar(arg.ident[0]);
        return arg.ident.length === 1 ? v : this.evalFieldChain(dot, v, arg, arg.ident.slice(1), [], false, undefined);
      }
      case 'chain': return this.evalFieldChain(dot, this.evalArg(dot, arg.node), arg, arg.field, [], false, undefined);
      case 'pipe': return this.evalPipeline(dot, arg.pipe);
      case 'identifier': return this.evalFunction(dot, arg, [], false, undefined, arg);
    }
  }

  private evalFieldChain(dot: unknown, receiver: unknown, node: Arg, ident: string[], args: Arg[], hasFinal: boolean, final: unknown): unknown {
    let v = receiver;
    for (let i = 0; i < ident.length - 1; i++) v = this.evalField(dot, ident[i], node, [], false, undefined, v);
    return this.evalField(dot, ident[ident.length - 1], node, args, hasFinal, final, v);
  }

  private evalField(dot: unknown, name: string, node: Arg, args: Arg[], hasFinal: boolean, final: unknown, receiver: unknown): unknown {
    this.mark(node);
    if (receiver === null || receiver === undefined || receiver === NO_VALUE) this.fail(`nil pointer evaluating interface {}.${name}`);
    if (isMap(receiver)) {
      // A function in a map is a method of its Go map type (docker's header map has Label); JSON has none.
      const m = Object.prototype.hasOwnProperty.call(receiver, name) ? receiver[name] : undefined;
      if (typeof m === 'function') {
        const argv = args.map((a) => this.evalArg(dot, a));
        if (hasFinal) argv.push(final);
        this.mark(node);
        if (argv.length !== m.length) this.fail(`wrong number of args for ${name}: want ${m.length} got ${argv.length}`);
        return (m as TemplateFunc)(...argv);
      }
      if (args.length || hasFinal) this.fail(`${name} is not a method but has arguments`);
      if (Object.prototype.hasOwnProperty.call(receiver, name)) {
        const v = receiver[name];
        return v === undefined ? null : v;
      }
      if (this.opts.missingKey === 'error') this.fail(`map has no entry for key "${name}"`);
      return this.opts.missingKey === 'zero' ? '' : NO_VALUE;
    }
    if (typeof receiver === 'object' && name in (receiver as object)) {
      const v = (receiver as Record<string, unknown>)[name];
      if (typeof v === 'function') {
        const argv = args.map((a) => this.evalArg(dot, a));
        if (hasFinal) argv.push(final);
        this.mark(node);
        if (argv.length !== v.length) this.fail(`wrong number of args for ${name}: want ${v.length} got ${argv.length}`);
        try { return (v as TemplateFunc).apply(receiver, argv); } catch (e) { this.fail(`error calling ${name}: ${(e as Error).message}`); }
      }
      if (args.length || hasFinal) this.fail(`${name} has arguments but cannot be invoked as function`);
      return v === undefined ? null : v;
    }
    return this.fail(`can't evaluate field ${name} in type ${goTypeName(receiver)}`);
  }

  private evalFunction(dot: unknown, node: Extract<Arg, { kind: 'identifier' }>, args: Arg[], hasFinal: boolean, final: unknown, site: { pos: number; src: string }): unknown {
    const name = node.name;
    // and/or short-circuit (Go 1.18+): they return the first deciding argument.
    if (name === 'and' || name === 'or') {
      const n = args.length + (hasFinal ? 1 : 0);
      if (n < 1) { this.mark(node); this.fail(`wrong number of args for ${name}: want at least 1 got 0`); }
      let v: unknown;
      for (let i = 0; i < n; i++) {
        v = i < args.length ? this.evalArg(dot, args[i]) : final;
        if (truth(v) === (name === 'or')) return v;
      }
      return v;
    }
    const fn = this.funcs[name];
    const argv = args.map((a) => this.evalArg(dot, a));
    if (hasFinal) argv.push(final);
    this.mark(site);
    const fixed: Record<string, number> = { not: 1, len: 1, ne: 2, lt: 2, le: 2, gt: 2, ge: 2, json: 1, split: 2, join: 2, title: 1, lower: 1, upper: 1, pad: 3, truncate: 2 };
    const least: Record<string, number> = { eq: 1, index: 1, slice: 1, printf: 1, call: 1 };
    if (fixed[name] !== undefined && argv.length !== fixed[name]) this.fail(`wrong number of args for ${name}: want ${fixed[name]} got ${argv.length}`);
    if (least[name] !== undefined && argv.length < least[name]) this.fail(`wrong number of args for ${name}: want at least ${least[name]} got ${argv.length}`);
    try {
      return fn(...argv);
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      if (e instanceof FuncError || e instanceof Error) this.fail(`error calling ${name}: ${e.message}`);
      throw e;
    }
  }
}
