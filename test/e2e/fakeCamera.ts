import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A small looping y4m clip as the fake camera: fixed 640×360 at 15 fps keeps several
 * encoding peers affordable on a small machine, and a moving pattern gives the decoder real
 * work. Written in plain Node so the tests need no ffmpeg.
 */
export function fakeCameraClip(dir: string): string {
  const path = join(dir, 'camera-640x360.y4m');
  if (existsSync(path)) return path;
  const w = 640;
  const hgt = 360;
  const frames = 30;
  const header = Buffer.from(`YUV4MPEG2 W${w} H${hgt} F15:1 Ip A1:1 C420jpeg\n`);
  const parts: Buffer[] = [header];
  for (let f = 0; f < frames; f++) {
    const y = Buffer.alloc(w * hgt);
    const u = Buffer.alloc((w / 2) * (hgt / 2));
    const v = Buffer.alloc((w / 2) * (hgt / 2));
    const cx = w / 2 + Math.cos((f / frames) * 2 * Math.PI) * 120;
    const cy = hgt / 2 + Math.sin((f / frames) * 2 * Math.PI) * 60;
    for (let row = 0; row < hgt; row++) {
      for (let col = 0; col < w; col++) {
        const d = Math.hypot(col - cx, row - cy);
        y[row * w + col] = d < 70 ? 200 : 40 + Math.round((row / hgt) * 50);
      }
    }
    for (let row = 0; row < hgt / 2; row++) {
      for (let col = 0; col < w / 2; col++) {
        u[row * (w / 2) + col] = 150 - Math.round((col / (w / 2)) * 30);
        v[row * (w / 2) + col] = 110 + Math.round((row / (hgt / 2)) * 30);
      }
    }
    parts.push(Buffer.from('FRAME\n'), y, u, v);
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(path, Buffer.concat(parts));
  return path;
}

