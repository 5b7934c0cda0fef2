import { promises as fsp } from 'node:fs';
import { errnoCode, invalidArgument } from '../base/errors';
import { resolveInRoot } from '../archive/container-path';

/**
 * Resolves Docker's `--user` (name, uid, name:group, uid:gid...) against the container's own
 * /etc/passwd and /etc/group, as moby/sys/user.GetExecUser does. Files are read through
 * `resolveInRoot`, so a symlinked /etc/passwd cannot point outside the rootfs.
 */

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** The user's home directory from passwd ('/' when unknown), for HOME. */
  home: string;
}

async function readInRoot(root: string, path: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(resolveInRoot(root, path), 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR' || errnoCode(e) === 'EISDIR') return undefined;
    throw e;
  }
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4) continue;
    const uid = Number(f[2]); const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({ name: f[0], uid, gid, home: f[5] || '/' });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3) continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid)) continue;
    out.push({ name: f[0], gid, members: (f[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean) });
  }
  return out;
}

const isNumeric = (s: string) => /^[0-9]+$/.test(s);

/**
 * `spec` is '' (root), 'name', 'uid', 'name:group', 'uid:gid' (mixes allowed). `groupAdd` are extra
 * groups (--group-add, names or gids). Throws InvalidArgument with Docker's wording
 * ("unable to find user x: no matching entries in passwd file").
 */
export async function resolveUser(rootfs: string, spec: string, groupAdd: readonly string[] = []): Promise<ResolvedUser> {
  return resolveUserIn((await readInRoot(rootfs, '/etc/passwd')) ?? '', (await readInRoot(rootfs, '/etc/group')) ?? '', spec, groupAdd);
}

/** `resolveUser` on the text of /etc/passwd and /etc/group (the builder reads them from an image's layers). */
export function resolveUserIn(passwdText: string, groupText: string, spec: string, groupAdd: readonly string[] = []): ResolvedUser {
  const [userPart, groupPart] = spec.includes(':') ? [spec.slice(0, spec.indexOf(':')), spec.slice(spec.indexOf(':') + 1)] : [spec, undefined];
  const passwd = parsePasswd(passwdText);
  const groups = parseGroup(groupText);

  let uid = 0; let gid = 0; let home = '/'; let name: string | undefined;
  const u = userPart === '' ? passwd.find((p) => p.uid === 0) : isNumeric(userPart)
    ? passwd.find((p) => p.uid === Number(userPart)) : passwd.find((p) => p.name === userPart);
  if (u) { uid = u.uid; gid = u.gid; home = u.home; name = u.name; }
  else if (userPart !== '' && !isNumeric(userPart)) {
    throw invalidArgument(`unable to find user ${userPart}: no matching entries in passwd file`);
  } else if (isNumeric(userPart)) uid = Number(userPart);
  if (uid > 0xffffffff - 1) throw invalidArgument(`uid ${userPart} out of range`);

  if (groupPart !== undefined && groupPart !== '') {
    if (isNumeric(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((x) => x.name === groupPart);
      if (!g) throw invalidArgument(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = g.gid;
    }
  }

  const additional = new Set<number>();
  // Supplementary groups from /etc/group apply only when no explicit group was asked for (as runc/moby).
  if (name !== undefined && groupPart === undefined) {
    for (const g of groups) if (g.members.includes(name) && g.gid !== gid) additional.add(g.gid);
  }
  for (const ga of groupAdd) {
    if (isNumeric(ga)) additional.add(Number(ga));
    else {
      const g = groups.find((x) => x.name === ga);
      if (!g) throw invalidArgument(`unable to find group ${ga}: no matching entries in group file`);
      additional.add(g.gid);
    }
  }
  return { uid, gid, additionalGids: [...additional], home };
}
