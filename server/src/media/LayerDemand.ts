/**
 * Dynacast bookkeeping: for each video producer of a room, the spatial layers its viewers
 * watch right now, on whatever router they are. A viewer counts while its consumer is
 * resumed, up to the layer it prefers (all layers until it says otherwise). When the
 * highest layer anyone watches changes, `change` tells who should tell the publisher:
 * more at once (someone is waiting for it), less only after `holdMs` without a rise, so a
 * tile that flickers between sizes or a viewer who pauses and resumes does not make the
 * publisher's encoder start and stop layers again and again.
 */
import { EventEmitter } from 'node:events';

interface Viewer {
  paused: boolean;
  layer: number;
}

interface Demand {
  /** Spatial layers the producer sends. */
  readonly layers: number;
  readonly viewers: Map<string, Viewer>;
  /** What the publisher was last told; undefined before the first word (it sends all layers). */
  told: number | null | undefined;
  lower: NodeJS.Timeout | undefined;
}

export type LayerDemandEvents = {
  change: [producerId: string, maxSpatialLayer: number | null];
};

export class LayerDemand extends EventEmitter<LayerDemandEvents> {
  readonly #holdMs: number;
  readonly #producers = new Map<string, Demand>();

  constructor(holdMs: number) {
    super();
    this.#holdMs = holdMs;
  }

  /** A video producer with this many spatial layers; nobody watches it yet. */
  addProducer(producerId: string, layers: number): void {
    this.#producers.set(producerId, { layers: Math.max(1, layers), viewers: new Map(), told: undefined, lower: undefined });
    this.#update(producerId);
  }

  removeProducer(producerId: string): void {
    const d = this.#producers.get(producerId);
    if (d) clearTimeout(d.lower);
    this.#producers.delete(producerId);
  }

  /** A consumer of the producer, created paused, watching every layer until it prefers fewer. */
  addViewer(producerId: string, consumerId: string): void {
    const d = this.#producers.get(producerId);
    if (!d) return;
    d.viewers.set(consumerId, { paused: true, layer: d.layers - 1 });
    this.#update(producerId);
  }

  setPaused(producerId: string, consumerId: string, paused: boolean): void {
    const v = this.#producers.get(producerId)?.viewers.get(consumerId);
    if (!v || v.paused === paused) return;
    v.paused = paused;
    this.#update(producerId);
  }

  setLayer(producerId: string, consumerId: string, spatialLayer: number): void {
    const d = this.#producers.get(producerId);
    const v = d?.viewers.get(consumerId);
    if (!d || !v) return;
    v.layer = Math.min(Math.max(0, spatialLayer), d.layers - 1);
    this.#update(producerId);
  }

  removeViewer(producerId: string, consumerId: string): void {
    if (this.#producers.get(producerId)?.viewers.delete(consumerId)) this.#update(producerId);
  }

  /** What the publisher was last told (undefined: nothing yet, so every layer). */
  told(producerId: string): number | null | undefined {
    return this.#producers.get(producerId)?.told;
  }

  /** The highest layer anyone watches now, null when nobody does. */
  wanted(producerId: string): number | null {
    const d = this.#producers.get(producerId);
    if (!d) return null;
    let max: number | null = null;
    for (const v of d.viewers.values()) if (!v.paused && (max === null || v.layer > max)) max = v.layer;
    return max;
  }

  #update(producerId: string): void {
    const d = this.#producers.get(producerId);
    if (!d) return;
    const want = this.wanted(producerId);
    // Before the first word the publisher sends every layer: that is the level to compare with.
    const told = d.told === undefined ? d.layers - 1 : d.told;
    if (want === told) {
      clearTimeout(d.lower);
      d.lower = undefined;
      return;
    }
    if (want !== null && (told === null || want > told)) {
      clearTimeout(d.lower);
      d.lower = undefined;
      this.#tell(producerId, d, want);
      return;
    }
    if (d.lower) return;
    d.lower = setTimeout(() => {
      d.lower = undefined;
      const now = this.wanted(producerId);
      const last = d.told === undefined ? d.layers - 1 : d.told;
      if (this.#producers.get(producerId) === d && now !== last) this.#tell(producerId, d, now);
    }, this.#holdMs);
  }

  #tell(producerId: string, d: Demand, layer: number | null): void {
    d.told = layer;
    this.emit('change', producerId, layer);
  }

  close(): void {
    for (const d of this.#producers.values()) clearTimeout(d.lower);
    this.#producers.clear();
    this.removeAllListeners();
  }
}
