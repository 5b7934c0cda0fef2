// Image commands: images, rmi, tag, history, save, load, import, inspect, prune, pull.
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { ClientError } from '../../client/client-error';
import { jsonMessages } from '../../client/engine-client';
import { StatusError, bool, list, str, type Command } from '../cli';
import { DEFAULT_HISTORY_FORMAT, DEFAULT_IMAGES_DIGEST_FORMAT, DEFAULT_IMAGES_FORMAT, HISTORY_HEADERS, HistoryContext, IMAGE_HEADERS, imageRows } from '../format/contexts';
import { renderRows } from '../format/formatter';
import { passThroughTo } from './container';
import { pullImage, withDefaultTag } from './container-run';
import { contentTrustOn } from '../trust-keys';
import { confirm, daemonMessage, printInspect, refuseTerminal } from './shared';
import { printPruneResult, pruneImages } from './prune';

const images: Command = {
  spec: {
    name: 'images', usage: 'images [OPTIONS] [REPOSITORY[:TAG]]', description: 'List images', maxArgs: 1,
    flags: [
      { long: 'all', short: 'a', type: 'bool', help: 'Show all images (default hides intermediate images)' },
      { long: 'digests', type: 'bool', help: 'Show digests' },
      { long: 'filter', short: 'f', type: 'list', meta: 'filter', help: 'Filter output based on conditions provided' },
      { long: 'format', type: 'string', help: 'Format output using a custom template' },
      { long: 'no-trunc', type: 'bool', help: "Don't truncate output" },
      { long: 'quiet', short: 'q', type: 'bool', help: 'Only show image IDs' },
      { long: 'tree', type: 'bool', hidden: true },
    ],
  },
  async run(cli, p) {
    const filters = [...list(p, 'filter')];
    if (p.args[0]) filters.push(`reference=${p.args[0]}`);
    const imgs = await cli.client.imageList({ all: bool(p, 'all'), filters });
    let format = str(p, 'format');
    const digests = bool(p, 'digests') || format.includes('.Digest');
    const def = bool(p, 'digests') ? DEFAULT_IMAGES_DIGEST_FORMAT : DEFAULT_IMAGES_FORMAT;
    if (bool(p, 'quiet') && !format) format = '{{.ID}}';
    if (!format) format = def;
    // -q prints one line per row, like docker 28: an image with two tags shows its ID twice.
    const rows = imageRows(imgs, { digests, trunc: !bool(p, 'no-trunc') });
    cli.out.write(renderRows(format, rows, IMAGE_HEADERS, def));
  },
};

const rmi: Command = {
  spec: {
    name: 'rmi', usage: 'rmi [OPTIONS] IMAGE [IMAGE...]', description: 'Remove one or more images', minArgs: 1,
    flags: [
      { long: 'force', short: 'f', type: 'bool', help: 'Force removal of the image' },
      { long: 'no-prune', type: 'bool', help: 'Do not delete untagged parents' },
    ],
  },
  async run(cli, p) {
    const errs: string[] = [];
    for (const img of p.args) {
      try {
        const res = await cli.client.imageRemove(img, { force: bool(p, 'force'), noprune: bool(p, 'no-prune') });
        for (const r of res ?? []) {
          if (r.Untagged) cli.print(`Untagged: ${r.Untagged}`);
          if (r.Deleted) cli.print(`Deleted: ${r.Deleted}`);
        }
      } catch (e) { errs.push(daemonMessage(e)); }
    }
    if (errs.length) throw new StatusError(1, errs.join('\n'));
  },
};

const tag: Command = {
  spec: { name: 'tag', usage: 'tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]', description: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE', minArgs: 2, maxArgs: 2, flags: [] },
  async run(cli, p) {
    const target = p.args[1];
    let repo = target, t: string | undefined;
    const colon = target.lastIndexOf(':');
    if (!target.includes('@') && colon > target.lastIndexOf('/')) { repo = target.slice(0, colon); t = target.slice(colon + 1); }
    await cli.client.imageTag(p.args[0], repo, t ?? 'latest');
  },
};

const history: Command = {
  spec: {
    name: 'history', usage: 'history [OPTIONS] IMAGE', description: 'Show the history of an image', minArgs: 1, maxArgs: 1,
    flags: [
      { long: 'format', type: 'string', help: 'Format output using a custom template' },
      { long: 'human', short: 'H', type: 'bool', def: true, help: 'Print sizes and dates in human readable format' },
      { long: 'no-trunc', type: 'bool', help: "Don't truncate output" },
      { long: 'quiet', short: 'q', type: 'bool', help: 'Only show image IDs' },
    ],
  },
  async run(cli, p) {
    const h = await cli.client.imageHistory(p.args[0]);
    let format = str(p, 'format');
    if (bool(p, 'quiet') && !format) format = '{{.ID}}';
    const now = Date.now();
    const rows = h.map((x) => new HistoryContext(x, !bool(p, 'no-trunc'), bool(p, 'human'), now));
    cli.out.write(renderRows(format || DEFAULT_HISTORY_FORMAT, rows, HISTORY_HEADERS, DEFAULT_HISTORY_FORMAT));
  },
};

const save: Command = {
  spec: {
    name: 'save', usage: 'save [OPTIONS] IMAGE [IMAGE...]', description: 'Save one or more images to a tar archive (streamed to STDOUT by default)', minArgs: 1,
    flags: [{ long: 'output', short: 'o', type: 'string', help: 'Write to a file, instead of STDOUT' }, { long: 'platform', type: 'list', help: 'Save only the given platform(s)' }],
  },
  async run(cli, p) {
    const out = str(p, 'output');
    if (!out) refuseTerminal(cli, 'save');
    const res = await cli.client.imageSave(p.args);
    await pipeline(res, out ? createWriteStream(out) : passThroughTo(cli.out));
  },
};

/** Prints a JSON progress stream the way docker does for non-terminals (status/stream lines). */
async function printProgress(cli: Cli_, res: NodeJS.ReadableStream & AsyncIterable<unknown>): Promise<void> {
  for await (const m of jsonMessages(res as never)) {
    if (m.error) throw new StatusError(1, m.error);
    if (m.stream) cli.out.write(m.stream);
    else if (m.status) cli.print(m.id ? `${m.id}: ${m.status}${m.progress ? ` ${m.progress}` : ''}` : m.status);
  }
}
type Cli_ = Parameters<Command['run']>[0];

const load: Command = {
  spec: {
    name: 'load', usage: 'load [OPTIONS]', description: 'Load an image from a tar archive or STDIN', maxArgs: 0,
    flags: [
      { long: 'input', short: 'i', type: 'string', help: 'Read from tar archive file, instead of STDIN' },
      { long: 'quiet', short: 'q', type: 'bool', help: 'Suppress the load output' },
      { long: 'platform', type: 'list', help: 'Load only the given platform(s)' },
    ],
  },
  async run(cli, p) {
    const input = str(p, 'input');
    if (!input && cli.input.isTTY) throw new StatusError(1, 'requested load from stdin, but stdin is empty');
    const body = input ? createReadStream(input) : cli.input;
    const res = await cli.client.imageLoad(body, bool(p, 'quiet') || !cli.out.isTTY);
    await printProgress(cli, res);
  },
};

const importCmd: Command = {
  spec: {
    name: 'import', usage: 'import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]', description: 'Import the contents from a tarball to create a filesystem image', minArgs: 1, maxArgs: 2,
    flags: [
      { long: 'change', short: 'c', type: 'list', help: 'Apply Dockerfile instruction to the created image' },
      { long: 'message', short: 'm', type: 'string', help: 'Set commit message for imported image' },
      { long: 'platform', type: 'string', help: 'Set platform if server is multi-platform capable' },
    ],
  },
  async run(cli, p) {
    const [src, ref] = p.args;
    let repo: string | undefined, t: string | undefined;
    if (ref) {
      const colon = ref.lastIndexOf(':');
      if (colon > ref.lastIndexOf('/')) { repo = ref.slice(0, colon); t = ref.slice(colon + 1); } else repo = ref;
    }
    const isUrl = /^(https?:\/\/)/.test(src);
    const body = src === '-' ? cli.input : isUrl ? undefined : createReadStream(src);
    const res = await cli.client.imageImport(body, { source: isUrl ? src : '-', repo, tag: t, message: str(p, 'message'), changes: list(p, 'change'), platform: str(p, 'platform') || undefined });
    for await (const m of jsonMessages(res)) {
      if (m.error) throw new StatusError(1, m.error);
      if (m.status) cli.print(m.status);
    }
  },
};

const inspect: Command = {
  spec: {
    name: 'image inspect', usage: 'image inspect [OPTIONS] IMAGE [IMAGE...]', description: 'Display detailed information on one or more images', minArgs: 1,
    flags: [{ long: 'format', short: 'f', type: 'string', help: 'Format output using a custom template' }],
  },
  async run(cli, p) {
    const found: unknown[] = [];
    const errs: string[] = [];
    for (const i of p.args) {
      try { found.push(await cli.client.imageInspect(i)); } catch (e) { errs.push(daemonMessage(e)); }
    }
    printInspect(cli, found, str(p, 'format'));
    if (errs.length) throw new StatusError(1, errs.join('\n'));
  },
};

const prune: Command = {
  spec: {
    name: 'image prune', usage: 'image prune [OPTIONS]', description: 'Remove unused images', maxArgs: 0,
    flags: [
      { long: 'all', short: 'a', type: 'bool', help: 'Remove all unused images, not just dangling ones' },
      { long: 'filter', type: 'list', meta: 'filter', help: 'Provide filter values (e.g. "until=<timestamp>")' },
      { long: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
    ],
  },
  async run(cli, p) {
    const all = bool(p, 'all');
    const warning = all ? 'WARNING! This will remove all images without at least one container associated to them.' : 'WARNING! This will remove all dangling images.';
    if (!bool(p, 'force') && !(await confirm(cli, warning))) return 0;
    printPruneResult(cli, await pruneImages(cli, all, list(p, 'filter')));
  },
};

const pull: Command = {
  spec: {
    name: 'pull', usage: 'pull [OPTIONS] NAME[:TAG|@DIGEST]', description: 'Download an image from a registry', minArgs: 1, maxArgs: 1,
    flags: [
      { long: 'all-tags', short: 'a', type: 'bool', help: 'Download all tagged images in the repository' },
      { long: 'disable-content-trust', type: 'bool', help: 'Skip image verification (with BERTH_CONTENT_TRUST=1)', hidden: true },
      { long: 'platform', type: 'string', help: 'Set platform if server is multi-platform capable' },
      { long: 'quiet', short: 'q', type: 'bool', help: 'Suppress verbose output' },
    ],
  },
  async run(cli, p) {
    const ref = p.args[0];
    const allTags = bool(p, 'all-tags');
    if (allTags && (ref.includes('@') || ref.lastIndexOf(':') > ref.lastIndexOf('/'))) throw new StatusError(1, 'tag can\'t be used with --all-tags/-a');
    if (!allTags && !ref.includes('@') && !(ref.lastIndexOf(':') > ref.lastIndexOf('/')) && !bool(p, 'quiet')) cli.print('Using default tag: latest');
    try { await pullImage(cli, ref, bool(p, 'quiet'), str(p, 'platform'), { out: cli.out, allTags, trust: contentTrustOn(bool(p, 'disable-content-trust')) }); } catch (e) {
      throw new StatusError(1, e instanceof ClientError && e.status !== 500 ? daemonMessage(e) : (e as Error).message);
    }
    // docker pull -q prints the reference pulled.
    if (bool(p, 'quiet')) cli.print(allTags ? ref : withDefaultTag(ref));
  },
};

export const commands: Record<string, Command> = { images, rmi, tag, history, save, load, import: importCmd, inspect, prune, pull };
