/** `npm run bench -- harness-selfcheck`: the harness measuring memcpy against itself (ratio ≈ 1). */
import type { Harness } from './harness';

export default function (h: Harness): void {
  for (const size of [64, 1500, 65536]) {
    const ref = h.memcpy(size);
    const again = h.memcpy(size);
    h.reportBoth(`memcpy-${size}`, again, 'memcpy', ref);
  }
}
