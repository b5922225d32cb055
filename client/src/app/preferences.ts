/**
 * What the browser remembers between visits. Storage may be unavailable (private modes,
 * disabled cookies); then nothing is remembered.
 */
const NICKNAME_KEY = 'noom.nickname';

export function loadNickname(): string {
  try {
    return localStorage.getItem(NICKNAME_KEY) ?? '';
  } catch {
    return '';
  }
}

export function saveNickname(name: string): void {
  try {
    if (name.trim()) localStorage.setItem(NICKNAME_KEY, name.trim());
    else localStorage.removeItem(NICKNAME_KEY);
  } catch {
    // Not remembering a nickname is harmless.
  }
}
