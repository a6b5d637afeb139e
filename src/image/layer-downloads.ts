import type { PullProgress } from "../docker/types.ts";

/**
 * Bytes a pull downloaded, from the engine's progress messages: each layer's last
 * `Downloading` count, or its size once `Download complete`. Layers the engine already had
 * ("Already exists") and extraction progress count nothing; so does a layer small enough that
 * the engine sent no `Downloading` message for it (its size is never reported then).
 */
export class LayerDownloads {
  readonly #layers = new Map<string, { current: number; total: number }>();

  update(progress: PullProgress): void {
    const id = progress.id;
    if (id === undefined) return;
    if (progress.status === "Downloading") {
      const current = progress.progressDetail?.current ?? 0;
      const total = progress.progressDetail?.total ?? 0;
      this.#layers.set(id, { current, total });
    } else if (progress.status === "Download complete") {
      const layer = this.#layers.get(id);
      if (layer && layer.total > layer.current) layer.current = layer.total;
    }
  }

  bytes(): number {
    let sum = 0;
    for (const layer of this.#layers.values()) sum += layer.current;
    return sum;
  }
}
