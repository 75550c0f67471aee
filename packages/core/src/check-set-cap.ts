import { NetbeError } from './errors';
import { netFeatureNames } from './net-features';
import { isValidVnetHdrLen } from './vnet-header';

/**
 * The argument checks of `NetBackend.setCap`: the header length is 0, 10 or 12 and `features`
 * lies within `caps` (what getCap reports). Throws NetbeError `ERR_UNSUPPORTED` naming the
 * backend and what is wrong.
 */
export function checkSetCap(name: string, features: bigint, vnetHdrLen: number, caps: bigint): void {
  if (!isValidVnetHdrLen(vnetHdrLen)) {
    throw new NetbeError('ERR_UNSUPPORTED', `${name}: virtio-net header length ${vnetHdrLen} (expected 0, 10 or 12)`);
  }
  const extra = features & ~caps;
  if (extra !== 0n) {
    throw new NetbeError('ERR_UNSUPPORTED', `${name}: features outside getCap(): ${netFeatureNames(extra).join(', ') || `0x${extra.toString(16)}`}`);
  }
}
