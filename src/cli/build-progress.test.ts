import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TtyBuildProgress } from './build-progress';

/** A terminal that applies the two escapes the view uses (cursor up N, clear below). */
class FakeTerminal {
  lines: string[] = [''];
  t = 0;
  columns = 40;
  write(s: string): void {
    const re = /\x1b\[(\d+)A\x1b\[J|\x1b\[[0-9;]*m|\n|[^\n\x1b]+/g;
    for (const m of s.matchAll(re)) {
      const tok = m[0];
      if (m[1] !== undefined) { this.lines.splice(this.lines.length - 1 - Number(m[1])); this.lines.push(''); }
      else if (tok.startsWith('\x1b')) continue;
      else if (tok === '\n') this.lines.push('');
      else this.lines[this.lines.length - 1] += tok;
    }
  }
  get screen(): string[] { return this.lines.slice(0, -1).map((l) => l.replace(/ +/g, ' ')); }
  now(): number { return this.t; }
}

describe('berth build --progress tty', () => {
  test('one line per step with its time or CACHED; running output shown live, then folded', () => {
    const term = new FakeTerminal();
    const v = new TtyBuildProgress(term);
    v.text('Step 1/3 : FROM busybox\n ---> 0123456789ab (0.00s)\nStep 2/3 : RUN echo hi\n');
    v.text(' ---> Running in abcdefabcdef\nhi\n');
    term.t = 1500;
    v.tick();
    assert.deepEqual(term.screen, ['[1/3] FROM busybox 0.0s', '[2/3] RUN echo hi 1.5s', ' hi']);
    v.text(' ---> Removed intermediate container abcdefabcdef\n ---> 123456789abc (1.62s)\nStep 3/3 : CMD ["x"]\n ---> Using cache\n ---> 23456789abcd (0.01s)\n');
    v.text('Successfully built 23456789abcd\n');
    v.finish(false);
    assert.deepEqual(term.screen, ['[1/3] FROM busybox 0.0s', '[2/3] RUN echo hi 1.6s', '[3/3] CMD ["x"] CACHED', 'Successfully built 23456789abcd']);
  });
  test('a failing step keeps its output; long labels are cut to the width', () => {
    const term = new FakeTerminal();
    const v = new TtyBuildProgress(term);
    v.text('Step 1/2 : FROM busybox\n ---> 0123456789ab (0.00s)\nStep 2/2 : RUN echo a-very-long-command-line-that-does-not-fit && exit 3\n ---> Running in abcdefabcdef\nboom\n');
    term.t = 200;
    v.finish(true);
    assert.equal(term.screen[1].length <= 40, true);
    assert.match(term.screen[1], /^\[2\/2\] RUN echo a-very-long.*… ERROR$/);
    assert.equal(term.screen[2], 'boom');
  });
});
