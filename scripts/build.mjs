// Builds berth: the native syscall addon, the two bundled entry points (the CLI must start lean:
// one file, no module resolution at start-up). Tests run from source through tsx.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { statSync, mkdirSync, copyFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

const addon = 'native/build/Release/berth_sys.node';
const nodeGyp = '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js';
if (!existsSync(addon) || statSync(addon).mtimeMs < statSync('native/berth_sys.c').mtimeMs) {
  execFileSync(process.execPath, [nodeGyp, 'rebuild', '--nodedir=/usr'], { cwd: 'native', stdio: ['ignore', 'ignore', 'inherit'] });
}
mkdirSync('dist', { recursive: true });
const wrapper = 'dist/crun-hybrid';
if (!existsSync(wrapper) || statSync(wrapper).mtimeMs < statSync('native/crun-hybrid.c').mtimeMs) {
  execFileSync('cc', ['-O2', '-Wall', '-o', `${wrapper}.tmp`, 'native/crun-hybrid.c'], { stdio: 'inherit' });
  renameSync(`${wrapper}.tmp`, wrapper);
}
// The per-container log rotator (docs/logging.md). Replaced by rename: running rotators have it mapped.
const rotator = 'dist/berth-logrotate';
if (!existsSync(rotator) || statSync(rotator).mtimeMs < statSync('native/log-rotate.c').mtimeMs) {
  execFileSync('cc', ['-O2', '-Wall', '-o', `${rotator}.tmp`, 'native/log-rotate.c', '-lz'], { stdio: 'inherit' });
  renameSync(`${rotator}.tmp`, rotator);
}
// The process wrapper of RUN steps with secrets as environment variables: static, it runs inside any image.
const secretEnv = 'dist/berth-secret-env';
if (!existsSync(secretEnv) || statSync(secretEnv).mtimeMs < statSync('native/secret-env.c').mtimeMs) {
  execFileSync('cc', ['-O2', '-Wall', '-static', '-o', `${secretEnv}.tmp`, 'native/secret-env.c'], { stdio: 'inherit' });
  renameSync(`${secretEnv}.tmp`, secretEnv);
}
// Replace, never overwrite: running berthds have the old file mapped, and truncating it kills them.
if (!existsSync('dist/berth_sys.node') || !readFileSync(addon).equals(readFileSync('dist/berth_sys.node'))) {
  copyFileSync(addon, 'dist/.berth_sys.node.tmp');
  renameSync('dist/.berth_sys.node.tmp', 'dist/berth_sys.node');
}

const common = { platform: 'node', target: 'node20', format: 'cjs', sourcemap: 'linked', logLevel: 'warning' };
const external = ['better-sqlite3', '*.node'];
// Each output replaces the old one by rename: a berth or berthd starting during a rebuild (other
// engineers' tests run while one builds) loads either the old bundle or the new, never half of one.
const result = await build({ ...common, bundle: true, external, entryPoints: { berthd: 'src/cmd/berthd.ts', berth: 'src/cmd/berth.ts' }, outdir: 'dist', write: false });
for (const f of result.outputFiles) {
  const tmp = `${f.path}.${process.pid}.tmp`;
  writeFileSync(tmp, f.contents);
  renameSync(tmp, f.path);
}
