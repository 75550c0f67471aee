/**
 * Loads the backend packages that are installed. Each registers its prefix in @netbe/core's
 * default registry when imported; one that is missing or fails to load is reported, not fatal,
 * so `netbe` works with whatever backends this installation has.
 */
import { defaultRegistry } from '@netbe/core';

/** The backend packages netbe knows about, in the order `netbe backends` lists them. */
export const BACKEND_PACKAGES = ['@netbe/backend-slirp', '@netbe/backend-tap', '@netbe/backend-memory', '@netbe/backend-pcap', '@netbe/backend-netmap'] as const;

export interface BackendLoadReport {
  loaded: string[];
  unavailable: Array<{ pkg: string; reason: string }>;
}

let report: Promise<BackendLoadReport> | null = null;

export function loadBackends(): Promise<BackendLoadReport> {
  report ??= (async () => {
    const out: BackendLoadReport = { loaded: [], unavailable: [] };
    for (const pkg of BACKEND_PACKAGES) {
      const before = defaultRegistry.list().length;
      let mod: Record<string, unknown>;
      try {
        mod = (await import(pkg)) as Record<string, unknown>;
      } catch (e) {
        const err = e as { code?: string; message?: string };
        const missing = err.code === 'ERR_MODULE_NOT_FOUND' && (err.message ?? '').includes(pkg);
        out.unavailable.push({ pkg, reason: missing ? 'not installed' : `failed to load: ${err.message ?? String(e)}` });
        continue;
      }
      if (defaultRegistry.list().length === before) {
        // A package that exports a register function but does not register on import.
        for (const [name, value] of Object.entries(mod)) {
          if (/^register\w*Backend$/.test(name) && typeof value === 'function') {
            try {
              (value as () => void)();
            } catch {
              // already registered under its prefix
            }
          }
        }
      }
      if (defaultRegistry.list().length > before) out.loaded.push(pkg);
      else out.unavailable.push({ pkg, reason: 'loaded, but registered no backend' });
    }
    return out;
  })();
  return report;
}
