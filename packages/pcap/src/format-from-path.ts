import type { CaptureFormat } from './encoder';

/** `.pcapng`/`.ntar`/`.scap` → pcapng, `.pcap`/`.cap`/`.dmp` → pcap; anything else undefined. */
export function formatFromPath(path: string): CaptureFormat | undefined {
  const m = /\.([a-z0-9]+)$/i.exec(path);
  const ext = m ? m[1]!.toLowerCase() : '';
  if (ext === 'pcapng' || ext === 'ntar' || ext === 'scap') return 'pcapng';
  if (ext === 'pcap' || ext === 'cap' || ext === 'dmp') return 'pcap';
  return undefined;
}
