/** One register of a register block: where it is and how wide (1, 2 or 4 bytes). */
export interface RegisterField {
  offset: number;
  size: number;
}

/** True when an access of `size` bytes at `offset` is exactly one of `fields`. */
export function matchesField(fields: readonly RegisterField[], offset: number, size: number): boolean {
  for (const f of fields) if (f.offset === offset) return f.size === size;
  return false;
}
