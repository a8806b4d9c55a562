// What changed between the book a user was editing and the book the service holds now (the
// `current` of a 412), in words.

import type { Book } from "./api";

/** The differences from `mine` (what the page showed) to `theirs` (what is stored now). */
export function describeChanges(mine: Book, theirs: Book | null | undefined): string[] {
  if (!theirs) return ["The book has been deleted."];
  const changes: string[] = [];
  if (mine.category !== theirs.category) changes.push(`Category: ${mine.category} → ${theirs.category}`);
  const before = mine.formats ?? {};
  const after = theirs.formats ?? {};
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const was = before[name];
    const now = after[name];
    if (was === now) continue;
    if (was === undefined) changes.push(`Format ${name} added (${now})`);
    else if (now === undefined) changes.push(`Format ${name} removed (was ${was})`);
    else changes.push(`Format ${name}: ${was} → ${now}`);
  }
  if (changes.length === 0) changes.push("No visible change (another write bumped the version).");
  changes.push(`Version ${mine.version} → ${theirs.version}`);
  return changes;
}
