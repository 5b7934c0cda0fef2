// version, info, and the generic inspect.
import { ClientError } from '../../client/client-error';
import { CLIENT_API_VERSION } from '../../client/engine-client';
import { StatusError, bool, str, type Command } from '../cli';
import { compileFormat, prepareFormat } from '../format/formatter';
import { tabwrite } from '../format/tabwriter';
import { bytesSize } from '../../base/units';
import { VERSION } from '../version';
import { daemonMessage, printInspect } from './shared';

/** Fields of GET /info that the typed client leaves out. */
interface InfoExtras {
  InitBinary?: string;
  ContainerdCommit?: { ID?: string };
  RuncCommit?: { ID?: string };
  InitCommit?: { ID?: string };
  Debug?: boolean;
  ExperimentalBuild?: boolean;
  LiveRestoreEnabled?: boolean;
  RegistryConfig?: { InsecureRegistryCIDRs?: string[]; IndexConfigs?: Record<string, { Name: string; Secure: boolean }>; Mirrors?: string[] };
}

const version: Command = {
  spec: { name: 'version', usage: 'version [OPTIONS]', description: 'Show the Docker version information', maxArgs: 0, flags: [{ long: 'format', short: 'f', type: 'string', help: 'Format output using a custom template' }] },
  async run(cli, p) {
    const client = {
      Platform: { Name: '' }, Version: VERSION, ApiVersion: CLIENT_API_VERSION, DefaultAPIVersion: CLIENT_API_VERSION,
      GitCommit: '', GoVersion: `node ${process.version}`, Os: process.platform, Arch: process.arch === 'x64' ? 'amd64' : process.arch, BuildTime: '', Context: 'default',
    };
    let server: Record<string, unknown> | null = null;
    let err: unknown;
    try {
      await cli.client.apiVersion();
      const v = await cli.client.systemVersion();
      client.ApiVersion = await cli.client.apiVersion();
      // docker's templates see Go field names: APIVersion (json "ApiVersion").
      server = { ...v, APIVersion: (v as { ApiVersion?: string }).ApiVersion } as unknown as Record<string, unknown>;
    } catch (e) { err = e; }
    const format = str(p, 'format');
    if (format) {
      const out = compileFormat(prepareFormat(format)).execute({ Client: { ...client, APIVersion: client.ApiVersion, DefaultAPIVersion: client.DefaultAPIVersion }, Server: server });
      cli.print(out);
    } else {
      // docker's defaultVersionTemplate, through a tabwriter (minwidth 20, padding 1).
      const lines = ['Client:', ` Version:\t${client.Version}`, ` API version:\t${client.ApiVersion}`, ` Go version:\t${client.GoVersion}`,
        ` Git commit:\t${client.GitCommit}`, ` Built:\t${client.BuildTime}`, ` OS/Arch:\t${client.Os}/${client.Arch}`, ` Context:\t${client.Context}`];
      if (server) {
        const s = server as { Platform?: { Name?: string }; Components?: { Name: string; Version: string; Details?: Record<string, string> }[]; Version: string; ApiVersion: string; MinAPIVersion?: string; GitCommit?: string; Os: string; Arch: string; GoVersion?: string; BuildTime?: string; Experimental?: boolean };
        lines.push('', `Server:${s.Platform?.Name ? ` ${s.Platform.Name}` : ''}`);
        for (const c of s.Components ?? []) {
          lines.push(` ${c.Name}:`);
          const d = c.Details ?? {};
          if (c.Name === 'Engine') {
            lines.push(`  Version:\t${c.Version}`, `  API version:\t${d.ApiVersion ?? ''} (minimum version ${d.MinAPIVersion ?? ''})`,
              `  Go version:\t${d.GoVersion ?? ''}`, `  Git commit:\t${d.GitCommit ?? ''}`, `  Built:\t${d.BuildTime ?? ''}`,
              `  OS/Arch:\t${d.Os ?? ''}/${d.Arch ?? ''}`, `  Experimental:\t${d.Experimental ?? ''}`);
          } else {
            lines.push(`  Version:\t${c.Version}`, ...Object.keys(d).sort().map((k) => `  ${k}:\t${d[k]}`));
          }
        }
      }
      cli.out.write(tabwrite(`${lines.join('\n')}\n`, 20, 1));
    }
    if (err) throw new StatusError(1, daemonMessage(err));
  },
};

const info: Command = {
  spec: { name: 'info', usage: 'info [OPTIONS]', description: 'Display system-wide information', maxArgs: 0, flags: [{ long: 'format', short: 'f', type: 'string', help: 'Format output using a custom template' }] },
  async run(cli, p) {
    const format = str(p, 'format');
    const i = await cli.client.info();
    if (format) {
      if (format === 'json') { cli.print(JSON.stringify(i)); return; }
      cli.print(compileFormat(prepareFormat(format)).execute(i));
      return;
    }
    const lines = ['Client:', ` Version:    ${VERSION}`, ` Context:    default`, ` Debug Mode: false`, '', 'Server:',
      ` Containers: ${i.Containers}`, `  Running: ${i.ContainersRunning}`, `  Paused: ${i.ContainersPaused}`, `  Stopped: ${i.ContainersStopped}`,
      ` Images: ${i.Images}`, ` Server Version: ${i.ServerVersion ?? ''}`, ` Storage Driver: ${i.Driver}`];
    for (const [k, v] of i.DriverStatus ?? []) lines.push(`  ${k}: ${v}`);
    lines.push(` Logging Driver: ${i.LoggingDriver ?? ''}`, ` Cgroup Driver: ${i.CgroupDriver ?? ''}`, ` Cgroup Version: ${i.CgroupVersion ?? ''}`);
    if (i.Plugins) {
      lines.push(' Plugins:', `  Volume: ${(i.Plugins.Volume ?? []).join(' ')}`, `  Network: ${(i.Plugins.Network ?? []).join(' ')}`, `  Log: ${(i.Plugins.Log ?? []).join(' ')}`);
    }
    lines.push(` Swarm: ${i.Swarm?.LocalNodeState ?? 'inactive'}`);
    if (i.Runtimes) lines.push(` Runtimes: ${Object.keys(i.Runtimes).join(' ')}`);
    lines.push(` Default Runtime: ${i.DefaultRuntime ?? ''}`);
    const x = i as typeof i & InfoExtras;
    if ((x.OSType ?? 'linux') === 'linux') {
      lines.push(` Init Binary: ${x.InitBinary ?? ''}`, ` containerd version: ${x.ContainerdCommit?.ID ?? ''}`,
        ` runc version: ${x.RuncCommit?.ID ?? ''}`, ` init version: ${x.InitCommit?.ID ?? ''}`);
    }
    if (i.SecurityOptions?.length) {
      // docker decodes "name=seccomp,profile=builtin" and shows only the profile option.
      lines.push(' Security Options:');
      for (const opt of i.SecurityOptions) {
        const kv = Object.fromEntries(opt.split(',').map((f) => { const eq = f.indexOf('='); return eq < 0 ? [f, ''] : [f.slice(0, eq), f.slice(eq + 1)]; }));
        lines.push(`  ${kv.name ?? opt}`);
        if (kv.profile !== undefined) lines.push(`   Profile: ${kv.profile}`);
      }
    }
    lines.push(` Kernel Version: ${i.KernelVersion ?? ''}`, ` Operating System: ${i.OperatingSystem ?? ''}`, ` OSType: ${i.OSType ?? ''}`,
      ` Architecture: ${i.Architecture ?? ''}`, ` CPUs: ${i.NCPU ?? 0}`, ` Total Memory: ${bytesSize(i.MemTotal ?? 0)}`, ` Name: ${i.Name ?? ''}`,
      ` ID: ${i.ID ?? ''}`, ` Docker Root Dir: ${i.DockerRootDir ?? ''}`, ` Debug Mode: ${!!x.Debug}`, ` Experimental: ${!!x.ExperimentalBuild}`);
    const reg = x.RegistryConfig;
    const insecureIndexes = Object.values(reg?.IndexConfigs ?? {}).filter((c) => !c.Secure).map((c) => c.Name);
    if (reg && (reg.InsecureRegistryCIDRs?.length || Object.keys(reg.IndexConfigs ?? {}).length)) {
      lines.push(' Insecure Registries:', ...insecureIndexes.map((n) => `  ${n}`), ...(reg.InsecureRegistryCIDRs ?? []).map((c) => `  ${c}`));
    }
    if (reg?.Mirrors?.length) lines.push(' Registry Mirrors:', ...reg.Mirrors.map((m) => `  ${m}`));
    lines.push(` Live Restore Enabled: ${!!x.LiveRestoreEnabled}`, '', '');
    cli.print(lines.join('\n'));
    for (const w of i.Warnings ?? []) cli.printErr(w);
  },
};

const inspect: Command = {
  spec: {
    name: 'inspect', usage: 'inspect [OPTIONS] NAME|ID [NAME|ID...]', description: 'Return low-level information on Docker objects', minArgs: 1,
    flags: [
      { long: 'format', short: 'f', type: 'string', help: 'Format output using a custom template' },
      { long: 'size', short: 's', type: 'bool', help: 'Display total file sizes if the type is container' },
      { long: 'type', type: 'string', help: 'Only inspect objects of the given type' },
    ],
  },
  async run(cli, p) {
    const type = str(p, 'type');
    if (type && !['container', 'image', 'network', 'volume', 'node', 'service', 'task', 'secret', 'config', 'plugin'].includes(type)) {
      throw new StatusError(1, `"${type}" is not a valid value for --type`);
    }
    const client = cli.client;
    const getters: [string, (ref: string) => Promise<unknown>][] = [
      ['container', (r) => client.containerInspect(r, bool(p, 'size'))],
      ['image', (r) => client.imageInspect(r)],
      ['network', (r) => client.json('GET', `/networks/${encodeURIComponent(r)}`)],
      ['volume', (r) => client.json('GET', `/volumes/${encodeURIComponent(r)}`)],
    ];
    const found: unknown[] = [];
    const errs: string[] = [];
    for (const ref of p.args) {
      let obj: unknown;
      for (const [t, get] of getters) {
        if (type && t !== type) continue;
        try { obj = await get(ref); break; } catch (e) {
          if (!(e instanceof ClientError) || (e.status !== 404 && e.status !== 400)) { errs.push(daemonMessage(e)); obj = null; break; }
        }
      }
      if (obj) found.push(obj);
      else if (obj === undefined) errs.push(`Error: No such object: ${ref}`);
    }
    printInspect(cli, found, str(p, 'format'));
    if (errs.length) throw new StatusError(1, errs.join('\n'));
  },
};

export const commands: Record<string, Command> = { version, info, inspect };
