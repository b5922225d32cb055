/**
 * The room's audio, mixed: every audio consumer's Opus is decoded as it arrives (libopus in
 * WebAssembly, `opusscript`) into a small per-source buffer, and every 20 ms one mono frame
 * is the sum of what each source has ready. A source joins the mix once it has 40 ms
 * buffered (so the jitter of its packets does not tear the sound) and a source more than
 * 80 ms ahead drops its oldest audio (its clock runs faster than ours, or a stall let packets
 * pile up), which keeps the sound within a few tens of milliseconds of the picture. Sources come and go
 * at any time; with none, the frame is silence, so the recording's audio never stops.
 */
import OpusScript from 'opusscript';

export const SAMPLE_RATE = 48_000;
export const FRAME_SAMPLES = 960; // 20 ms
const START_SAMPLES = 2 * FRAME_SAMPLES;
/** Beyond this a source drops its oldest audio: a longer buffer would put the sound behind the picture. */
const MAX_SAMPLES = 4 * FRAME_SAMPLES;
/** How long, about, a sample waits here between arriving and going into the mix (the sender reports say so). */
export const MIX_DELAY_SAMPLES = START_SAMPLES;

class Source {
  readonly decoder = new OpusScript(SAMPLE_RATE, 1, OpusScript.Application.AUDIO);
  chunks: Int16Array[] = [];
  offset = 0;
  available = 0;
  playing = false;
  errors = 0;

  push(samples: Int16Array): void {
    this.chunks.push(samples);
    this.available += samples.length;
    while (this.available - this.offset > MAX_SAMPLES && this.chunks.length > 1) {
      const dropped = this.chunks.shift()!;
      this.available -= dropped.length;
      this.offset = 0;
    }
    if (this.available - this.offset >= START_SAMPLES) this.playing = true;
  }

  /** Adds up to one frame of this source into `mix`. */
  addTo(mix: Int32Array): void {
    if (!this.playing) return;
    let i = 0;
    while (i < mix.length && this.chunks.length > 0) {
      const chunk = this.chunks[0]!;
      const n = Math.min(mix.length - i, chunk.length - this.offset);
      for (let k = 0; k < n; k++) mix[i + k]! += chunk[this.offset + k]!;
      i += n;
      this.offset += n;
      if (this.offset >= chunk.length) {
        this.chunks.shift();
        this.available -= chunk.length;
        this.offset = 0;
      }
    }
    // Ran dry: wait for a little buffer again before playing on.
    if (i < mix.length) this.playing = false;
  }

  close(): void {
    this.decoder.delete();
  }
}

export class AudioMixer {
  readonly #sources = new Map<number, Source>();

  /** Starts mixing the source sending on `ssrc`. */
  add(ssrc: number): void {
    if (!this.#sources.has(ssrc)) this.#sources.set(ssrc, new Source());
  }

  remove(ssrc: number): void {
    this.#sources.get(ssrc)?.close();
    this.#sources.delete(ssrc);
  }

  get sourceCount(): number {
    return this.#sources.size;
  }

  /** An Opus payload of a source; undecodable ones are dropped (a glitch, never a failure). */
  push(ssrc: number, opus: Buffer): void {
    const source = this.#sources.get(ssrc);
    if (!source || opus.length === 0) return;
    try {
      const pcm = source.decoder.decode(opus);
      const samples = new Int16Array(pcm.length >> 1);
      for (let i = 0; i < samples.length; i++) samples[i] = pcm.readInt16LE(i * 2);
      source.push(samples);
    } catch {
      source.errors++;
    }
  }

  /** The next 20 ms of the mix as 16-bit big-endian PCM (RTP's L16). */
  nextFrame(): Buffer {
    const mix = new Int32Array(FRAME_SAMPLES);
    for (const source of this.#sources.values()) source.addTo(mix);
    const out = Buffer.allocUnsafe(FRAME_SAMPLES * 2);
    for (let i = 0; i < FRAME_SAMPLES; i++) out.writeInt16BE(Math.max(-32768, Math.min(32767, mix[i]!)), i * 2);
    return out;
  }

  close(): void {
    for (const source of this.#sources.values()) source.close();
    this.#sources.clear();
  }
}
