import { invalidArgument } from '../base/errors';

/**
 * Translates a seccomp profile in Docker's format (/usr/share/containers/seccomp.json: `archMap`,
 * rules with `includes`/`excludes` by caps, arches and minKernel) into the OCI runtime-spec form for
 * one architecture and one capability set, as moby's profiles/seccomp does. crun accepts Docker's
 * format silently with wrong semantics, so we always hand the runtime the translated form.
 * Pure: the caller reads the file once and passes its text.
 */

interface DockerArg { index: number; value: number; valueTwo?: number; op: string }
interface DockerFilter { caps?: string[] | null; arches?: string[] | null; minKernel?: string | null }
interface DockerRule {
  name?: string;
  names?: string[] | null;
  action: string;
  args?: DockerArg[] | null;
  errnoRet?: number;
  includes?: DockerFilter | null;
  excludes?: DockerFilter | null;
}
export interface DockerSeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  archMap?: Array<{ architecture: string; subArchitectures?: string[] | null }> | null;
  architectures?: string[] | null;
  flags?: string[] | null;
  syscalls?: DockerRule[] | null;
  listenerPath?: string;
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  flags?: string[];
  syscalls: Array<{ names: string[]; action: string; errnoRet?: number; args?: DockerArg[] }>;
}

/** Node's process.arch -> Docker's (Go) arch name, used by `includes.arches`. */
const NODE_TO_GO_ARCH: Record<string, string> = {
  x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64',
  mips: 'mips', mipsel: 'mipsle', loong64: 'loong64',
};
/** Go arch -> libseccomp's SCMP_ARCH name. */
const GO_TO_SCMP: Record<string, string> = {
  amd64: 'SCMP_ARCH_X86_64', '386': 'SCMP_ARCH_X86', arm64: 'SCMP_ARCH_AARCH64', arm: 'SCMP_ARCH_ARM',
  ppc64le: 'SCMP_ARCH_PPC64LE', s390x: 'SCMP_ARCH_S390X', riscv64: 'SCMP_ARCH_RISCV64', mips: 'SCMP_ARCH_MIPS',
  mipsle: 'SCMP_ARCH_MIPSEL', loong64: 'SCMP_ARCH_LOONGARCH64',
};

export interface SeccompTarget {
  /** Node-style arch (process.arch). */
  arch: string;
  /** Kernel release (os.release()), for `minKernel` rules. */
  kernel: string;
  /** The container's capability set (CAP_ names). */
  capabilities: readonly string[];
}

/** Parses the profile JSON; InvalidArgument on malformed input. */
export function parseSeccompProfile(text: string): DockerSeccompProfile {
  let p: unknown;
  try { p = JSON.parse(text); } catch (e) { throw invalidArgument(`seccomp profile: ${(e as Error).message}`, e); }
  if (typeof p !== 'object' || p === null || typeof (p as DockerSeccompProfile).defaultAction !== 'string') {
    throw invalidArgument('seccomp profile: missing defaultAction');
  }
  return p as DockerSeccompProfile;
}

/** Compares "6.18.0-foo" >= "4.8" by major.minor. */
export function kernelAtLeast(release: string, min: string): boolean {
  const parse = (s: string) => s.split(/[^0-9]+/).filter(Boolean).slice(0, 2).map(Number);
  const [a1 = 0, a2 = 0] = parse(release);
  const [b1 = 0, b2 = 0] = parse(min);
  return a1 !== b1 ? a1 > b1 : a2 >= b2;
}

/** Translates the profile for the target (see the file comment). */
export function translateSeccomp(profile: DockerSeccompProfile, target: SeccompTarget): OciSeccomp {
  const goArch = NODE_TO_GO_ARCH[target.arch] ?? target.arch;
  const scmpArch = GO_TO_SCMP[goArch];
  const architectures: string[] = [];
  if (profile.archMap && scmpArch) {
    for (const entry of profile.archMap) {
      if (entry.architecture === scmpArch) architectures.push(entry.architecture, ...(entry.subArchitectures ?? []));
    }
  } else if (profile.architectures) architectures.push(...profile.architectures);
  const caps = new Set(target.capabilities);
  const out: OciSeccomp = { defaultAction: profile.defaultAction, architectures, syscalls: [] };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.flags?.length) out.flags = [...profile.flags];
  for (const rule of profile.syscalls ?? []) {
    const inc = rule.includes ?? {};
    const exc = rule.excludes ?? {};
    if (inc.arches?.length && !inc.arches.includes(goArch)) continue;
    if (exc.arches?.length && exc.arches.includes(goArch)) continue;
    if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) continue;
    if (exc.caps?.length && exc.caps.some((c) => caps.has(c))) continue;
    if (inc.minKernel && !kernelAtLeast(target.kernel, inc.minKernel)) continue;
    if (exc.minKernel && kernelAtLeast(target.kernel, exc.minKernel)) continue;
    const names = rule.names?.length ? [...rule.names] : rule.name ? [rule.name] : [];
    if (!names.length) continue;
    const s: OciSeccomp['syscalls'][number] = { names, action: rule.action };
    if (rule.errnoRet !== undefined) s.errnoRet = rule.errnoRet;
    if (rule.args?.length) s.args = rule.args.map((a) => ({ index: a.index, value: a.value, valueTwo: a.valueTwo ?? 0, op: a.op }));
    out.syscalls.push(s);
  }
  return out;
}

/**
 * Caches translations of one profile per (arch, kernel, capability set): containers with the
 * default caps all share one object. Treat the result as read-only.
 */
export class SeccompTranslator {
  private readonly cache = new Map<string, OciSeccomp>();
  private readonly profile: DockerSeccompProfile;
  constructor(profileText: string, private readonly host: { arch: string; kernel: string }) {
    this.profile = parseSeccompProfile(profileText);
  }
  forCapabilities(capabilities: readonly string[]): OciSeccomp {
    const key = [...capabilities].sort().join(',');
    let t = this.cache.get(key);
    if (!t) {
      t = translateSeccomp(this.profile, { ...this.host, capabilities });
      this.cache.set(key, t);
    }
    return t;
  }
}
