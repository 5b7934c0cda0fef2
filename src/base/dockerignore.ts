/**
 * `.dockerignore` with Docker's rules (moby/patternmatcher and its ignorefile.ReadAll), pure: the
 * CLI applies it when it tars a context and the daemon applies it again to what it received, so
 * both import this one module.
 *
 * Rules: one pattern per line; `#` starts a comment only at the beginning of a line; surrounding
 * blanks are trimmed; a pattern is cleaned like Go's filepath.Clean and a leading `/` dropped;
 * `*` and `?` do not cross `/`, `**` crosses any number of directories (also none), `[...]` is a
 * class; `\` escapes. The last matching pattern wins, and `!pattern` re-includes. A pattern that
 * matches a parent directory of a path matches the path too.
 */
import { posix } from 'node:path';
import { invalidArgument } from './errors';

interface Pattern {
  text: string;
  exclusion: boolean;
  re: RegExp;
}

/** The patterns of a .dockerignore file, in order (`!` kept as a prefix), as ignorefile.ReadAll returns them. */
export function readDockerignore(content: string | Uint8Array): string[] {
  let text = typeof content === 'string' ? content : Buffer.from(content).toString('utf8');
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (raw.startsWith('#')) continue;
    let p = raw.trim();
    if (p === '') continue;
    const invert = p[0] === '!';
    if (invert) p = p.slice(1).trim();
    if (p.length > 0) {
      p = posix.normalize(p).replace(/\/+$/, '') || '/';
      if (p.length > 1 && p[0] === '/') p = p.slice(1);
    }
    out.push(invert ? `!${p}` : p);
  }
  return out;
}

/** Go's filepath.Clean for a relative slash path ('' -> '.'). */
function clean(p: string): string {
  if (p === '') return '.';
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

function compile(pattern: string): RegExp {
  let re = '^';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (inClass && c !== ']' && c !== '\\') { re += c; continue; }
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        // `**/` is taken as `**`.
        if (pattern[i + 1] === '/') i++;
        re += i + 1 >= pattern.length ? '.*' : '(.*/)?';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '\\') re += i + 1 < pattern.length ? `\\${pattern[++i]}` : '\\\\';
    else if (c === '[' || c === ']') { re += c; inClass = c === '['; }
    else re += c.replace(/[.$^+(){}|]/g, '\\$&');
  }
  try {
    return new RegExp(`${re}$`);
  } catch {
    throw invalidArgument(`syntax error in pattern: ${pattern}`);
  }
}

/**
 * A compiled pattern list. `excludes(path)` answers for a context-relative slash path
 * (`dir/file`, no leading `./`).
 */
export class DockerIgnore {
  private readonly patterns: Pattern[] = [];

  constructor(patterns: readonly string[]) {
    for (let p of patterns) {
      p = p.trim();
      if (p === '') continue;
      let exclusion = false;
      if (p[0] === '!') {
        if (p.length === 1) throw invalidArgument('illegal exclusion pattern: "!"');
        exclusion = true;
        p = p.slice(1);
      }
      p = clean(p);
      this.patterns.push({ text: p, exclusion, re: compile(p) });
    }
  }

  /** True when there are `!` patterns (an excluded directory must then still be walked). */
  get hasExceptions(): boolean {
    return this.patterns.some((p) => p.exclusion);
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** Docker's MatchesOrParentMatches: is `path` excluded from the context? */
  excludes(path: string): boolean {
    const file = clean(path);
    const parent = posix.dirname(file);
    const parentDirs = parent.split('/');
    let matched = false;
    for (const p of this.patterns) {
      // An inclusion cannot change a match, nor an exclusion a non-match.
      if (p.exclusion !== matched) continue;
      let m = p.re.test(file);
      if (!m && parent !== '.') {
        for (let i = 0; i < parentDirs.length && !m; i++) m = p.re.test(parentDirs.slice(0, i + 1).join('/'));
      }
      if (m) matched = !p.exclusion;
    }
    return matched;
  }
}

/**
 * The .dockerignore that applies to a build: `<Dockerfile>.dockerignore` next to the Dockerfile
 * wins over the context's `.dockerignore` (as BuildKit and the docker CLI choose). `read` returns a
 * file's content or undefined; `dockerfile` is the Dockerfile's path as `read` understands it.
 */
export function chooseDockerignore(read: (path: string) => string | Uint8Array | undefined, dockerfile: string | undefined): string[] {
  if (dockerfile) {
    const own = read(`${dockerfile}.dockerignore`);
    if (own !== undefined) return readDockerignore(own);
  }
  const common = read('.dockerignore');
  return common === undefined ? [] : readDockerignore(common);
}

/**
 * Docker's TrimBuildFilesFromExcludes: the Dockerfile and .dockerignore are sent even when
 * excluded (the daemon needs the one, and the other is applied again there).
 */
export function keepBuildFiles(patterns: string[], dockerfile: string): string[] {
  const out = [...patterns];
  if (new DockerIgnore(out).excludes('.dockerignore')) out.push('!.dockerignore');
  const d = clean(dockerfile);
  if (new DockerIgnore(out).excludes(d)) out.push(`!${d}`);
  return out;
}
