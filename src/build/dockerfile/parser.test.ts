import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parse, parseHeredoc, chompHeredocContent, DockerfileParseError } from './parser';
import { dump } from './dump';

/** The dump of a Dockerfile, as lines. */
const d = (text: string) => dump(parse(text)).trimEnd().split('\n');
const fails = (text: string, line: number, detail: RegExp) => {
  assert.throws(() => parse(text), (e: unknown) => {
    assert.ok(e instanceof DockerfileParseError);
    assert.equal(e.kind, 'InvalidArgument');
    assert.equal(e.line, line);
    assert.match(e.detail, detail);
    return true;
  });
};

describe('parser directives', () => {
  test('escape switches the escape token; names are case-insensitive', () => {
    const f = parse('# ESCAPE=`\nFROM x\nRUN a `\n  b\n');
    assert.equal(f.escapeToken, '`');
    assert.deepEqual(f.directives, [{ name: 'escape', value: '`', line: 1 }]);
    assert.deepEqual(d('# ESCAPE=`\nFROM x\nRUN a `\n  b\n'), ['(from "x")', '(run "a   b")']);
  });
  test('syntax and check are recorded, not dumped', () => {
    const f = parse('# syntax = docker/dockerfile:1\n#check=skip=all\nFROM x\n');
    assert.deepEqual(f.directives.map((x) => [x.name, x.value, x.line]), [['syntax', 'docker/dockerfile:1', 1], ['check', 'skip=all', 2]]);
    assert.deepEqual(d('# syntax = docker/dockerfile:1\nFROM x\n'), ['(from "x")']);
  });
  test('only at the top: a blank line, a comment or an instruction ends the header', () => {
    assert.equal(parse('\n# escape=`\nRUN a `\n').escapeToken, '\\');
    assert.equal(parse('# hello\n# escape=`\nFROM x\n').escapeToken, '\\');
    assert.equal(parse('FROM x\n# escape=`\n').escapeToken, '\\');
    assert.equal(parse('# unknown=1\n# escape=`\nFROM x\n').escapeToken, '\\');
  });
  test('a repeated directive and a bad escape token are errors with their line', () => {
    fails('# escape=`\n# escape=\\\nFROM x\n', 2, /only one escape parser directive/);
    fails('# escape=x\nFROM x\n', 1, /invalid escape token 'x'/);
  });
});

describe('line continuations', () => {
  test('joined without a separator; comments and blank lines inside are skipped', () => {
    const f = parse('FROM x\nRUN a \\\n# comment\n\n  b \\\n');
    assert.deepEqual(dump(f), '(from "x")\n(run "a   b")\n');
    assert.equal(f.warnings.length, 1); // the blank line
    assert.equal(f.instructions[1].startLine, 2);
    assert.equal(f.instructions[1].endLine, 5);
  });
  test('blanks after the escape token still continue; an escaped escape does not', () => {
    assert.deepEqual(d('RUN a \\  \t\n b'), ['(run "a  b")']);
    assert.deepEqual(d('RUN a\\\\\nRUN b'), ['(run "a\\\\\\\\")', '(run "b")']);
  });
  test('an escape at the end of the file ends the instruction', () => {
    assert.deepEqual(d('FROM x\nRUN a \\'), ['(from "x")', '(run "a")']);
  });
  test('CRLF line endings', () => {
    assert.deepEqual(d('FROM x\r\nRUN a \\\r\n  b\r\n'), ['(from "x")', '(run "a   b")']);
  });
});

describe('heredocs', () => {
  test('several per line, chomp and quoted delimiters', () => {
    const f = parse('COPY <<A <<-"B" /dst\none\nA\n\tt\n\tB\nRUN x');
    assert.deepEqual(d('COPY <<A <<-"B" /dst\none\nA\n\tt\n\tB\nRUN x'), ['(copy "<<A" "<<-\\"B\\"" "/dst")', '(run "x")']);
    assert.deepEqual(f.instructions[0].heredocs, [
      { name: 'A', fileDescriptor: 0, expand: true, chomp: false, content: 'one\n' },
      { name: 'B', fileDescriptor: 0, expand: false, chomp: true, content: '\tt\n' },
    ]);
    assert.equal(f.instructions[0].endLine, 5);
    assert.equal(f.instructions[1].startLine, 6);
  });
  test('behind ONBUILD, not in JSON form, not for other instructions', () => {
    assert.equal(parse('ONBUILD RUN <<EOF\nhi\nEOF\n').instructions[0].heredocs[0].content, 'hi\n');
    assert.deepEqual(parse('RUN ["<<EOF"]').instructions[0].heredocs, []);
    assert.deepEqual(d('USER <<X\nX\n'), ['(user "<<X")', '(x "")']);
  });
  test('delimiter words', () => {
    assert.deepEqual(parseHeredoc('3<<EOF'), { name: 'EOF', fileDescriptor: 3, expand: true, chomp: false, content: '' });
    assert.equal(parseHeredoc("<<eo'f'")?.expand, false);
    assert.equal(parseHeredoc("<<eo'f'")?.name, 'eof');
    assert.equal(parseHeredoc('<<  EOF')?.name, 'EOF');
    assert.equal(parseHeredoc('<<'), null);
    assert.equal(parseHeredoc('<<a b'), null);
    assert.equal(chompHeredocContent('\t\ta\n\tb\n c\n'), 'a\nb\n c\n');
  });
  test('an unterminated heredoc is an error', () => {
    fails('RUN <<EOF\nno end\n', 1, /unterminated heredoc/);
  });
});

describe('JSON (exec) form', () => {
  test('a string array is exec form', () => {
    const f = parse('CMD ["a", "b c"]\nSHELL ["/bin/sh", "-c"]');
    assert.deepEqual(f.instructions[0].args, ['a', 'b c']);
    assert.equal(f.instructions[0].json, true);
    assert.deepEqual(d('CMD []'), ['(cmd)']);
  });
  test('invalid JSON falls back to the shell form (a list of words for COPY/ADD/VOLUME)', () => {
    assert.deepEqual(d(`CMD ["a" 'b']`), [`(cmd "[\\"a\\" 'b']")`]);
    assert.deepEqual(d('CMD [1e999]'), ['(cmd "[1e999]")']); // Go's decoder fails on the overflow
    assert.deepEqual(d('VOLUME [/a /b]'), ['(volume "[/a" "/b]")']);
    assert.equal(parse(`CMD ["a" 'b']`).instructions[0].json, false);
  });
  test('valid JSON with anything but strings is an error', () => {
    fails('FROM x\nCMD ["a", 1]', 2, /arrays must be comprised of strings only/);
    fails('CMD [ "echo", [ "nested json" ] ]', 1, /strings only/);
  });
});

describe('flags', () => {
  test('leading --words on every instruction; `--` ends them', () => {
    assert.deepEqual(d('RUN --mount=type=cache,target=/x --network=none -- --foo bar'),
      ['(run ["--mount=type=cache,target=/x" "--network=none"] "--foo bar")']);
    assert.deepEqual(d('COPY --chown="a b" --from=x src dst'), ['(copy ["--chown=a b" "--from=x"] "src" "dst")']);
    assert.deepEqual(d('FROM --platform=linux/amd64 x AS y'), ['(from ["--platform=linux/amd64"] "x" "AS" "y")']);
    assert.deepEqual(d('HEALTHCHECK --interval=5s CMD true'), ['(healthcheck ["--interval=5s"] "CMD" "true")']);
  });
  test('bytes, as BuildKit scans them', () => {
    // é is C3 A9: each byte becomes the rune of the same number
    assert.deepEqual(parse('COPY --chown=é a b').instructions[0].flags, ['--chown=\u00c3\u00a9']);
  });
});

describe('arguments per instruction', () => {
  test('ENV and LABEL: key=value pairs and the legacy form', () => {
    assert.deepEqual(d('ENV a=1 b="x y"'), ['(env "a" "1" "=" "b" "\\"x y\\"" "=")']);
    assert.deepEqual(d('ENV PATH /a  /b'), ['(env "PATH" "/a  /b" "")']);
    assert.deepEqual(d('LABEL "a b"=c'), ['(label "\\"a b\\"" "c" "=")']);
    fails('ENV a=1 c', 1, /can't find = in "c"/);
    fails('FROM x\n\nENV PATH', 3, /ENV must have two arguments/);
  });
  test('ARG, EXPOSE, FROM, USER, WORKDIR, STOPSIGNAL, MAINTAINER', () => {
    assert.deepEqual(d('ARG A B=2 "C D"=3'), ['(arg "A" "B=2" "\\"C D\\"=3")']);
    assert.deepEqual(d('EXPOSE 80/tcp  443'), ['(expose "80/tcp" "443")']);
    assert.deepEqual(d('USER  me:grp '), ['(user "me:grp")']);
    assert.deepEqual(d('WORKDIR /a b'), ['(workdir "/a b")']);
    assert.deepEqual(d('STOPSIGNAL SIGKILL'), ['(stopsignal "SIGKILL")']);
    assert.deepEqual(d('MAINTAINER Me <me@x>'), ['(maintainer "Me <me@x>")']);
  });
  test('ONBUILD holds an instruction; HEALTHCHECK NONE', () => {
    const f = parse('ONBUILD --x ADD . /app');
    assert.deepEqual(dump(f), '(onbuild ["--x"] (add "." "/app"))\n');
    assert.equal(f.instructions[0].trigger?.keyword, 'ADD');
    assert.deepEqual(d('HEALTHCHECK NONE'), ['(healthcheck "NONE")']);
    assert.deepEqual(d('HEALTHCHECK CMD ["true"]'), ['(healthcheck "CMD" "true")']);
  });
  test('an unknown instruction parses (its arguments dropped); the builder rejects it', () => {
    assert.deepEqual(d('FOO bar baz'), ['(foo "")']);
  });
  test('non-printable characters are Go-quoted', () => {
    assert.deepEqual(d('USER \u00e9t\u00e9 \u00a0x\x07'), ['(user "été \\u00a0x\\a")']);
    assert.deepEqual(dump(parse(Uint8Array.from([...Buffer.from('USER a'), 0xff]))), '(user "a\\xff")\n');
  });
});

describe('lines and warnings', () => {
  test('start and end lines span continuations, skipped lines and heredoc bodies', () => {
    const f = parse('# escape=\\\n\nFROM a\n\nENV X \\\n\n  y\nRUN <<E\nbody\nE\n');
    assert.deepEqual(f.instructions.map((i) => [i.startLine, i.endLine]), [[3, 3], [5, 7], [8, 10]]);
  });
  test('one warning per instruction with blank lines inside its continuation; comments are no blanks', () => {
    const f = parse('FROM a\nRUN x \\\n\n  y \\\n\n  z\nRUN p \\\n# c\n  q\n');
    assert.equal(f.warnings.length, 1);
    assert.match(f.warnings[0].message, /RUN x   y   z/);
  });
  test('a physical line over 64 KiB is an error, as with bufio.Scanner', () => {
    fails(`FROM a\nLABEL x=${'a'.repeat(65536)}\n`, 2, /^dockerfile line greater than max allowed size of 65535$/);
    assert.equal(parse(`LABEL x=${'a'.repeat(65000)}`).instructions.length, 1);
  });
});

describe('errors', () => {
  test('an empty file or only comments has no instructions', () => {
    fails('', 0, /file with no instructions/);
    fails('# a\n\n', 2, /file with no instructions/);
  });
  test('comments before an instruction are kept with it', () => {
    assert.deepEqual(parse('# one\n#two\nFROM x').instructions[0].comments, ['one', 'two']);
  });
});
