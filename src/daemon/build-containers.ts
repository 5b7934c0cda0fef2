import type { Readable } from 'node:stream';
import type { Digest } from '../base/digest';
import type { ImageRuntimeConfig } from '../oci/image';
import type { Snapshotter } from '../snapshot/snapshotter';
import type { BuildContainers } from '../build/builder';
import type { Engine } from './engine';

/** The engine operations the builder needs: RUN containers, their diffs, image exports. */
export class EngineBuildContainers implements BuildContainers {
  constructor(private readonly engine: Engine, private readonly snapshotter: Snapshotter) {}

  async run(image: Digest, config: ImageRuntimeConfig, opts: { networkMode: string; onCreated: (id: string) => void; onOutput: (data: Buffer) => void; signal: AbortSignal }): Promise<{ id: string; exitCode: number }> {
    const { Id } = await this.engine.create({ ...config, Image: image, HostConfig: { NetworkMode: opts.networkMode } }, undefined);
    opts.onCreated(Id);
    const onAbort = () => { this.engine.kill(Id).catch(() => undefined); };
    opts.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const exited = this.engine.wait(Id, 'next-exit', opts.signal);
      exited.catch(() => undefined);
      await this.engine.start(Id);
      const { entries } = this.engine.logs(Id, { follow: true, signal: opts.signal });
      for await (const e of entries) opts.onOutput(e.data);
      const r = await exited;
      if (opts.signal.aborted) throw opts.signal.reason ?? new Error('build canceled');
      return { id: Id, exitCode: r.StatusCode };
    } finally {
      opts.signal.removeEventListener('abort', onAbort);
    }
  }

  diff(id: string): Readable {
    return this.snapshotter.diff(id);
  }

  async remove(id: string): Promise<void> {
    await this.engine.remove(id, { force: true, volumes: true });
  }

  async exportImage(image: Digest, signal: AbortSignal): Promise<Readable> {
    const { Id } = await this.engine.create({ Image: image, Cmd: ['/'], Entrypoint: [''] }, undefined);
    const tar = await this.engine.export(Id);
    const cleanup = () => { this.engine.remove(Id, { force: true, volumes: true }).catch(() => undefined); };
    tar.once('close', cleanup);
    signal.addEventListener('abort', () => tar.destroy(), { once: true });
    return tar;
  }
}
