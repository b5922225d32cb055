/**
 * What the browser remembers between visits: the nickname, the chosen devices and whether
 * the user joins with microphone and camera on. Storage may be unavailable (private modes,
 * disabled cookies); then nothing is remembered.
 */
import type { CaptureKind } from '../media/LocalMedia.js';

const NICKNAME_KEY = 'noom.nickname';
const deviceKey = (kind: CaptureKind) => `noom.device.${kind}`;
const joinWithKey = (kind: CaptureKind) => `noom.joinWith.${kind}`;

function read(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function write(key: string, value: string | null): void {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // Not remembering a preference is harmless.
  }
}

export function loadNickname(): string {
  return read(NICKNAME_KEY) ?? '';
}

export function saveNickname(name: string): void {
  write(NICKNAME_KEY, name.trim() || null);
}

export function loadDevice(kind: CaptureKind): string | undefined {
  return read(deviceKey(kind)) ?? undefined;
}

export function saveDevice(kind: CaptureKind, deviceId: string | undefined): void {
  write(deviceKey(kind), deviceId ?? null);
}

/** Whether to start with `kind` on; on unless the user last joined with it off. */
export function loadJoinWith(kind: CaptureKind): boolean {
  return read(joinWithKey(kind)) !== 'off';
}

export function saveJoinWith(kind: CaptureKind, on: boolean): void {
  write(joinWithKey(kind), on ? null : 'off');
}
