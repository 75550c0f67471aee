import * as assert from 'uvu/assert';
import {
  NET_OFFLOAD_FEATURES,
  netFeatureNames,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_MQ,
  type NetBackend,
} from '@netbe/core';
import { assertThrowsCode } from '../kit';
import { applies, type GroupBuilder } from '../group';

/** getCap / setCap / vnetHdrLen: what every backend must do (bhyve netbe_set_cap rules). */
export const capsGroup: GroupBuilder = (supports) => {
  const carriesHeader = applies(supports.vnetHeader);
  /** setCap(0, len): the backend records `len` (when it carries headers), else 0 or refuses. */
  const setHeader = (be: NetBackend, len: number): void => {
    if (carriesHeader) {
      be.setCap(0n, len);
      assert.is(be.vnetHdrLen, len, `supports.vnetHeader applies: setCap(0, ${len}) must make vnetHdrLen ${len}`);
      return;
    }
    try {
      be.setCap(0n, len);
    } catch (e) {
      assert.is((e as { code?: unknown }).code, 'ERR_UNSUPPORTED', `setCap(0, ${len}) may only refuse with ERR_UNSUPPORTED`);
      return;
    }
    assert.ok(be.vnetHdrLen === 0 || be.vnetHdrLen === len, `vnetHdrLen after setCap(0, ${len}) is ${be.vnetHdrLen}: must be 0 or ${len}`);
  };
  return [
    {
      name: 'a fresh backend uses header length 0',
      fn: ({ backend }) => assert.is(backend.vnetHdrLen, 0),
    },
    {
      name: 'getCap reports only offload bits',
      fn: ({ backend }) => {
        const extra = backend.getCap() & ~NET_OFFLOAD_FEATURES;
        assert.is(extra, 0n, `non-offload bits in getCap(): ${netFeatureNames(extra).join(', ')}`);
      },
    },
    {
      name: 'setCap(0, 0) gives header length 0',
      fn: ({ backend }) => {
        backend.setCap(0n, 0);
        assert.is(backend.vnetHdrLen, 0);
      },
    },
    {
      name: 'setCap refuses header lengths other than 0, 10, 12 with ERR_UNSUPPORTED',
      fn: ({ backend }) => {
        for (const len of [1, 8, 11, 13, 20, -1, 12.5, 65536]) {
          assertThrowsCode(() => backend.setCap(0n, len), 'ERR_UNSUPPORTED', `setCap(0, ${len})`);
        }
      },
    },
    {
      name: 'setCap refuses features outside getCap with ERR_UNSUPPORTED',
      fn: ({ backend }) => {
        const caps = backend.getCap();
        const outside = [VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_MQ];
        for (let bit = 1n; bit <= NET_OFFLOAD_FEATURES; bit <<= 1n) {
          if ((NET_OFFLOAD_FEATURES & bit) !== 0n && (caps & bit) === 0n) outside.push(bit);
        }
        for (const bit of outside) {
          assertThrowsCode(() => backend.setCap(caps | bit, 12), 'ERR_UNSUPPORTED', `setCap(getCap() | ${netFeatureNames(bit)[0]}, 12)`);
        }
      },
    },
    {
      name: `setCap(0, 10) and setCap(0, 12) ${carriesHeader ? 'make the backend carry the header' : 'record 0 or the length, or refuse'}`,
      fn: ({ backend }) => {
        setHeader(backend, 10);
        setHeader(backend, 12);
      },
    },
    {
      name: 'setCap can be called again (renegotiation after a device reset)',
      fn: ({ backend }) => {
        setHeader(backend, 12);
        backend.setCap(0n, 0);
        assert.is(backend.vnetHdrLen, 0, 'back to 0 after setCap(0, 0)');
        setHeader(backend, 10);
      },
    },
    {
      name: 'offloads come with a header: setCap(getCap(), 12) is accepted',
      fn: ({ backend }) => {
        const caps = backend.getCap();
        if (caps === 0n) return; // nothing offered, nothing to carry
        assert.ok(carriesHeader, `getCap() reports ${netFeatureNames(caps).join(', ')} but supports.vnetHeader does not apply: offload metadata needs the header`);
        backend.setCap(caps, 12);
        assert.is(backend.vnetHdrLen, 12);
      },
    },
  ];
};
