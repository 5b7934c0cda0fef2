// berth trust: key generate/ls, sign, inspect. Keys live in <config dir>/trust (trust-keys.ts);
// signing happens here, so the private key never leaves the client; the engine stores the
// signature in the registry as a cosign artifact referring to the image (docs/content-trust.md).
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Digest } from '../../base/digest';
import { simpleSigningPayload } from '../../oci/signature';
import { StatusError, str, type Command } from '../cli';
import { fingerprint, trustDir, trustHeader, trustedPublicKeys } from '../trust-keys';
import { registryAuthFor } from './registry';
import { daemonMessage } from './shared';

const KEY_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

const generate: Command = {
  spec: {
    name: 'trust key generate', usage: 'trust key generate [OPTIONS] [NAME]', description: 'Generate a signing key pair (NAME.key, NAME.pub)', maxArgs: 1,
    flags: [{ long: 'type', type: 'string', def: 'ecdsa-p256', help: 'Key type: ecdsa-p256 (cosign\'s default) or ed25519' }],
  },
  async run(cli, p) {
    const name = p.args[0] ?? 'default';
    if (!KEY_NAME.test(name)) throw new StatusError(1, `invalid key name ${JSON.stringify(name)}: letters, digits, '_', '.', '-'`);
    const type = str(p, 'type');
    if (type !== 'ecdsa-p256' && type !== 'ed25519') throw new StatusError(1, `unknown key type ${JSON.stringify(type)}: ecdsa-p256 or ed25519`);
    const dir = trustDir(cli.configDir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keyPath = join(dir, `${name}.key`), pubPath = join(dir, `${name}.pub`);
    if (existsSync(keyPath) || existsSync(pubPath)) throw new StatusError(1, `key ${name} already exists in ${dir}`);
    const pair = type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    // The private key is created 0600 (never readable by others, even for a moment).
    writeFileSync(keyPath, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    writeFileSync(pubPath, pair.publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644, flag: 'wx' });
    cli.print(`Generated ${type} key pair ${name}:\n  private key ${keyPath} (mode 0600)\n  public key  ${pubPath}\n  fingerprint sha256:${fingerprint(pair.publicKey)}`);
  },
};

const ls: Command = {
  spec: { name: 'trust key ls', usage: 'trust key ls', description: 'List trusted public keys and signing keys', maxArgs: 0, flags: [] },
  async run(cli) {
    const dir = trustDir(cli.configDir);
    const keys = trustedPublicKeys(cli.configDir);
    let priv: string[] = [];
    try { priv = readdirSync(dir).filter((n) => n.endsWith('.key')).map((n) => n.slice(0, -4)); } catch { /* none */ }
    const rows = [['NAME', 'FINGERPRINT', 'SIGNING'], ...keys.map((k) => [k.name, `sha256:${k.fingerprint.slice(0, 16)}`, priv.includes(k.name) ? 'yes' : 'no'])];
    const w = [0, 1].map((i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) cli.print(`${r[0].padEnd(w[0])}   ${r[1].padEnd(w[1])}   ${r[2]}`);
  },
};

/** The private key to sign with: --key NAME or PATH, else the only NAME.key in the trust dir. */
function signingKey(configDir: string, flag: string): { name: string; pem: string } {
  const dir = trustDir(configDir);
  let path: string;
  if (flag) path = isAbsolute(flag) || flag.includes('/') ? flag : join(dir, flag.endsWith('.key') ? flag : `${flag}.key`);
  else {
    let keys: string[] = [];
    try { keys = readdirSync(dir).filter((n) => n.endsWith('.key')); } catch { /* none */ }
    if (keys.length !== 1) throw new StatusError(1, keys.length ? `several signing keys in ${dir}: choose one with --key` : `no signing key in ${dir}: run berth trust key generate`);
    path = join(dir, keys[0]);
  }
  try { return { name: path.replace(/^.*\//, '').replace(/\.key$/, ''), pem: readFileSync(path, 'utf8') }; } catch (e) {
    throw new StatusError(1, `reading signing key: ${(e as Error).message}`);
  }
}

const signCmd: Command = {
  spec: {
    name: 'trust sign', usage: 'trust sign [OPTIONS] IMAGE', description: 'Sign an image in its registry (a cosign signature over its manifest digest)', minArgs: 1, maxArgs: 1,
    flags: [{ long: 'key', short: 'k', type: 'string', help: 'Signing key: a NAME in the trust directory or a path (default: the only one)' }],
  },
  async run(cli, p) {
    const image = p.args[0];
    const { name, pem } = signingKey(cli.configDir, str(p, 'key'));
    let priv;
    try { priv = createPrivateKey(pem); } catch { throw new StatusError(1, `signing key ${name}: not a PEM private key`); }
    const auth = registryAuthFor(cli, image);
    try {
      const target = await cli.client.trustInspect(image, { registryAuth: auth });
      // cosign's identity is the repository; the signature covers the payload bytes as sent.
      const payload = simpleSigningPayload(target.Repository, target.Digest as Digest);
      const signature = sign(priv.asymmetricKeyType === 'ed25519' ? null : 'sha256', payload, priv).toString('base64');
      const out = await cli.client.trustSign(image, payload, signature, { registryAuth: auth });
      cli.print(`Signed ${target.Reference} (${out.Digest}) with key ${name} (sha256:${fingerprint(createPublicKey(priv)).slice(0, 16)})\nSignature stored as ${out.Signature}`);
    } catch (e) { throw new StatusError(1, daemonMessage(e)); }
  },
};

const inspect: Command = {
  spec: {
    name: 'trust inspect', usage: 'trust inspect [OPTIONS] IMAGE', description: 'List the signatures of an image and whether they verify against the trusted keys', minArgs: 1, maxArgs: 1,
    flags: [{ long: 'format', short: 'f', type: 'string', help: 'Format output: json' }],
  },
  async run(cli, p) {
    const image = p.args[0];
    const keys = trustedPublicKeys(cli.configDir);
    const names = new Map(keys.map((k) => [k.fingerprint, k.name]));
    let out;
    try {
      out = await cli.client.trustInspect(image, { registryAuth: registryAuthFor(cli, image), headers: keys.length ? trustHeader(cli.configDir) : {} });
    } catch (e) { throw new StatusError(1, daemonMessage(e)); }
    if (str(p, 'format') === 'json') { cli.print(JSON.stringify(out, null, 4)); return; }
    if (str(p, 'format')) throw new StatusError(1, `unknown format ${JSON.stringify(str(p, 'format'))}: json`);
    const verified = out.Signatures.filter((s) => s.Verified).length;
    cli.print(`${out.Reference}\nDigest: ${out.Digest}\nSignatures: ${out.Signatures.length} (${verified} verified by a trusted key)`);
    for (const s of out.Signatures) {
      const who = s.Verified ? `verified by ${names.get(s.VerifiedBy) ?? 'a policy key'} (sha256:${s.VerifiedBy.slice(0, 16)})` : `NOT verified: ${s.Problem}`;
      cli.print(`  ${s.Source.startsWith('sha256:') ? s.Source.slice(0, 19) : s.Source}  ${s.Identity || '-'}  ${who}`);
    }
  },
};

export const commands: Record<string, Command> = { generate, ls, sign: signCmd, inspect };
