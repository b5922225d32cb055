const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

export function formatTime(ts: number): string {
  return timeFormat.format(new Date(ts));
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** One or two letters for an avatar: "Ada Lovelace" → "AL", "full-house" → "FH", "Ada" → "A". */
export function initials(name: string): string {
  const words = name.trim().split(/[\s_.~-]+/).filter(Boolean);
  const letters = words.slice(0, 2).map((w) => [...w][0] ?? '');
  return letters.join('').toUpperCase() || '?';
}

/** A stable hue per name, so that avatars are told apart at a glance. */
export function hue(name: string): number {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) % 360;
  return h;
}
