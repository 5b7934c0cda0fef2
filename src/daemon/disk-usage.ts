import type { Digest } from '../base/digest';
import type { ImageRecord, LayerUsage } from '../image/image-store';

/**
 * `system df`'s image sizes (pure). An image is made of parts on disk: each layer's unpacked
 * snapshot (by chain ID) and each layer's tar (by diffID, kept for save and push). Docker's fields:
 * - Size: all the image's parts;
 * - SharedSize: its parts that another image uses too (what removing it alone would not free);
 * - LayersSize: every part once, the total the images take.
 * The docker CLI prints UNIQUE SIZE = Size - SharedSize and RECLAIMABLE = LayersSize minus the
 * unique sizes of images in use by containers.
 */
export interface ImageDiskUsage {
  layersSize: number;
  images: Map<Digest, { size: number; sharedSize: number }>;
}

export function imageDiskUsage(images: ImageRecord[], layers: Map<Digest, LayerUsage>): ImageDiskUsage {
  const partsOf = (img: ImageRecord): Map<string, number> => {
    const parts = new Map<string, number>();
    for (const chain of img.chainIds) {
      const l = layers.get(chain);
      if (!l) continue;
      parts.set(`snapshot:${chain}`, l.unpacked);
      if (l.archive > 0) parts.set(`tar:${l.diffId}`, l.archive);
    }
    return parts;
  };
  const byImage = images.map((img) => ({ img, parts: partsOf(img) }));
  const refs = new Map<string, { size: number; n: number }>();
  for (const { parts } of byImage) {
    for (const [key, size] of parts) {
      const r = refs.get(key);
      if (r) r.n++;
      else refs.set(key, { size, n: 1 });
    }
  }
  const out: ImageDiskUsage = { layersSize: 0, images: new Map() };
  for (const r of refs.values()) out.layersSize += r.size;
  for (const { img, parts } of byImage) {
    let size = 0;
    let sharedSize = 0;
    for (const [key, n] of parts) {
      size += n;
      if (refs.get(key)!.n > 1) sharedSize += n;
    }
    out.images.set(img.id, { size, sharedSize });
  }
  return out;
}
