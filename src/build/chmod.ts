/**
 * COPY/ADD `--chmod`: an octal mode (up to 07777) as BuildKit's convert_copy.go checks it, or a
 * symbolic one (`u+x`, `go-w`, `a=rX,u+s`) as chmod(1) reads it (BuildKit takes both). Pure.
 */
import { invalidArgument } from '../base/errors';
import type { ModeFn } from './context';

export function parseChmod(spec: string): ModeFn {
  const nonOctal = () => invalidArgument(`invalid chmod parameter: '${spec}'. it should be octal string and between 0 and 07777`);
  if (/^[0-9]+$/.test(spec)) {
    if (!/^[0-7]+$/.test(spec)) throw nonOctal();
    const n = parseInt(spec, 8);
    if (n > 0o7777) throw nonOctal();
    return () => n;
  }
  const clauses = spec.split(',').map((c) => {
    const m = /^([ugoa]*)((?:[-+=](?:[ugo]|[rwxXst]*))+)$/.exec(c);
    if (!m) throw nonOctal();
    const who = m[1] || 'a';
    const ops = [...m[2].matchAll(/([-+=])([ugo]|[rwxXst]*)/g)].map((o) => ({ op: o[1], perm: o[2] }));
    return { who, ops };
  });
  return (mode: number, isDir: boolean) => {
    let cur = mode & 0o7777;
    for (const { who, ops } of clauses) {
      const users = who.includes('a') ? 'ugo' : who;
      for (const { op, perm } of ops) {
        let bits = 0;
        if (/^[ugo]$/.test(perm)) {
          // Copy the permissions of another class (`g=u`).
          const shift = { u: 6, g: 3, o: 0 }[perm as 'u' | 'g' | 'o'];
          const rwx = (cur >> shift) & 7;
          for (const u of users) bits |= rwx << { u: 6, g: 3, o: 0 }[u as 'u' | 'g' | 'o'];
        } else {
          for (const u of users) {
            const shift = { u: 6, g: 3, o: 0 }[u as 'u' | 'g' | 'o'];
            for (const p of perm) {
              if (p === 'r') bits |= 4 << shift;
              else if (p === 'w') bits |= 2 << shift;
              else if (p === 'x') bits |= 1 << shift;
              else if (p === 'X') { if (isDir || (cur & 0o111)) bits |= 1 << shift; }
              else if (p === 's') { if (u === 'u') bits |= 0o4000; else if (u === 'g') bits |= 0o2000; }
              else if (p === 't') bits |= 0o1000;
            }
          }
        }
        if (op === '+') cur |= bits;
        else if (op === '-') cur &= ~bits;
        else {
          let clear = 0;
          for (const u of users) clear |= 7 << { u: 6, g: 3, o: 0 }[u as 'u' | 'g' | 'o'];
          if (users.includes('u')) clear |= 0o4000;
          if (users.includes('g')) clear |= 0o2000;
          if (users.includes('o')) clear |= 0o1000;
          cur = (cur & ~clear) | bits;
        }
      }
    }
    return cur;
  };
}
