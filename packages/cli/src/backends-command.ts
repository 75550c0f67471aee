import { DEVICE_OPTIONS, defaultRegistry } from '@netbe/core';
import { loadBackends } from './load-backends';
import { DEFAULT_BACKEND } from './serve';

/** `netbe backends`: every registered backend, its options and examples; what is not installed. */
export async function listBackends(out: (line: string) => void): Promise<void> {
  const report = await loadBackends();
  out('Backends (choose one with --backend NAME[,option=value...]):');
  for (const f of defaultRegistry.list()) {
    out('');
    out(`  ${f.prefix}${f.prefix === DEFAULT_BACKEND ? '   (the default)' : ''}`);
    out(`    ${f.description}`);
    for (const o of f.options) out(`    ${o.name}=…${' '.repeat(Math.max(1, 14 - o.name.length))}${o.description}${o.repeatable ? ' (repeatable)' : ''}`);
    for (const e of f.examples ?? []) out(`    example: --backend ${e}`);
  }
  out('');
  out('Options every backend accepts (they configure the NIC):');
  for (const o of DEVICE_OPTIONS) out(`    ${o.name}=…${' '.repeat(Math.max(1, 14 - o.name.length))}${o.description}`);
  if (report.unavailable.length > 0) {
    out('');
    out('Not available in this installation:');
    for (const u of report.unavailable) out(`    ${u.pkg}: ${u.reason}`);
  }
}
