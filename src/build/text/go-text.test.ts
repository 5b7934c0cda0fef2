import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeGoBytes, encodeGoBytes, goQuote, goQuoteList, isSpace, trimSpace, goToLower } from './go-text';

test("goQuote follows Go's strconv.Quote", () => {
  assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(goQuote('\t\n\r\x07\x08\x0b\x0c'), '"\\t\\n\\r\\a\\b\\v\\f"');
  assert.equal(goQuote('\x00\x1b\x7f'), '"\\x00\\x1b\\x7f"');
  assert.equal(goQuote('\u00a0\u00ad\u200b'), '"\\u00a0\\u00ad\\u200b"');
  assert.equal(goQuote('é€😀'), '"é€😀"');
  assert.equal(goQuote('\u{e0001}'), '"\\U000e0001"');
  assert.equal(goQuoteList(['--a=1', 'b c']), '["--a=1" "b c"]');
});

test('invalid UTF-8 bytes survive decoding and print as \\xNN', () => {
  const bytes = Uint8Array.from([0x61, 0xff, 0xc3, 0xa9, 0xc3]);
  const s = decodeGoBytes(bytes);
  assert.deepEqual([...encodeGoBytes(s)], [...bytes]);
  assert.equal(goQuote(s), '"a\\xffé\\xc3"');
});

test("Go's notion of space, trimming and lower case", () => {
  assert.ok(isSpace(0x85) && isSpace(0xa0) && isSpace(0x3000));
  assert.ok(!isSpace(0xfeff));
  assert.equal(trimSpace('\u0085 a \u00a0'), 'a');
  assert.equal(goToLower('RUN'), 'run');
  assert.equal(goToLower('İX'), 'ix');
});
