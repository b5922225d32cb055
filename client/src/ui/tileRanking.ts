/**
 * Who of the other people gets one of the grid's video tiles, and in which slot. Pure, so
 * that the policy can be tested without a browser.
 */

export interface Candidate {
  id: string;
  /** Their camera is on: a video tile shows them, where a name tile would show only a name. */
  video: boolean;
  /** They share a screen: the room is looking at their work. */
  presenting: boolean;
}

/**
 * Everyone, most deserving of a video tile first: pinned people (most recently pinned
 * first), then recent speakers (most recent first), then presenters, then those whose
 * camera is on, then the rest; join order within each group. `people` is in join order.
 */
export function rankForVideo(
  people: readonly Candidate[],
  pinned: readonly string[],
  speakers: readonly string[],
): string[] {
  const present = new Set(people.map((p) => p.id));
  const ranked = new Set<string>();
  const take = (id: string): void => {
    if (present.has(id)) ranked.add(id);
  };
  pinned.forEach(take);
  speakers.forEach(take);
  for (const p of people) if (p.presenting) take(p.id);
  for (const p of people) if (p.video) take(p.id);
  for (const p of people) take(p.id);
  return [...ranked];
}

/**
 * The slot order for `chosen`: whoever keeps a video tile keeps its place, and newcomers
 * take the places of those who left before any new place is added, so that a change of
 * who is shown moves one tile rather than reshuffling the grid.
 */
export function keepPlaces(previous: readonly string[], chosen: readonly string[]): string[] {
  const wanted = new Set(chosen);
  const kept = new Set(previous.filter((id) => wanted.has(id)));
  const newcomers = chosen.filter((id) => !kept.has(id));
  const slots: string[] = [];
  for (const id of previous) {
    if (kept.has(id)) slots.push(id);
    else if (newcomers.length > 0) slots.push(newcomers.shift()!);
  }
  return [...slots, ...newcomers];
}
