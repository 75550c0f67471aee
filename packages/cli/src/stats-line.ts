import type { BackendStats } from '@netbe/core';
import { totalDrops, type NetDeviceStats } from '@netbe/virtio-net';

/** Counters at one instant, per direction as the guest sees it. */
export interface StatsSample {
  at: number;
  rxFrames: number;
  rxBytes: number;
  rxDrops: number;
  txFrames: number;
  txBytes: number;
  txDrops: number;
}

/** Reads the device's and the backend's counters. RX = towards the guest, TX = from the guest. */
export function sample(at: number, device: NetDeviceStats, backend: Readonly<BackendStats>): StatsSample {
  return {
    at,
    rxFrames: device.rx.frames,
    rxBytes: device.rx.bytes,
    rxDrops: totalDrops(device.rx) + backend.rxDrops,
    txFrames: device.tx.frames,
    txBytes: device.tx.bytes,
    txDrops: totalDrops(device.tx) + backend.txDrops,
  };
}

function rate(n: number, unit: string): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G${unit}`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M${unit}`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k${unit}`;
  return `${n.toFixed(0)} ${unit}`;
}

/** "rx 1.2 kframes/s 9.8 Mbit/s 0 drops | tx …" between two samples. */
export function statsLine(a: StatsSample, b: StatsSample): string {
  const s = Math.max(1e-3, (b.at - a.at) / 1000);
  const dir = (frames: number, bytes: number, drops: number): string => `${rate(frames / s, 'frames/s')} ${rate((bytes * 8) / s, 'bit/s')} ${drops} drops`;
  return `rx ${dir(b.rxFrames - a.rxFrames, b.rxBytes - a.rxBytes, b.rxDrops - a.rxDrops)} | tx ${dir(b.txFrames - a.txFrames, b.txBytes - a.txBytes, b.txDrops - a.txDrops)}`;
}
