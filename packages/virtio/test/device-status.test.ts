import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DeviceStatus,
  STATUS_ACKNOWLEDGE as ACK,
  STATUS_DRIVER as DRIVER,
  STATUS_DRIVER_OK as DRIVER_OK,
  STATUS_FAILED as FAILED,
  STATUS_FEATURES_OK as FEATURES_OK,
  STATUS_NEEDS_RESET as NEEDS_RESET,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_VERSION_1,
  VirtioError,
  featureMask,
} from '@netbe/virtio';

const V1 = featureMask(VIRTIO_F_VERSION_1);
const EVENT_IDX = featureMask(VIRTIO_F_EVENT_IDX);
const HIGH = featureMask(63);

function device(extra: Partial<ConstructorParameters<typeof DeviceStatus>[0]> = {}) {
  const log: string[] = [];
  const d = new DeviceStatus({
    deviceFeatures: V1 | EVENT_IDX | HIGH | 0x20n,
    onReset: () => log.push('reset'),
    onFeatures: (f) => log.push(`features ${f.toString(16)}`),
    onDriverOk: () => log.push('driver-ok'),
    onNeedsReset: (e) => log.push(`needs-reset ${e?.code ?? ''}`),
    ...extra,
  });
  return { d, log };
}

test('the modern sequence: ACK, DRIVER, features in two 32-bit words, FEATURES_OK, DRIVER_OK', () => {
  const { d, log } = device();
  assert.is(d.readDeviceFeatures(0), Number((EVENT_IDX | 0x20n) & 0xffffffffn));
  assert.is(d.readDeviceFeatures(1), 0x80000001);
  assert.is(d.readDeviceFeatures(2), 0);
  d.writeStatus(ACK);
  d.writeStatus(ACK | DRIVER);
  d.writeDriverFeaturesWord(0, Number(EVENT_IDX));
  d.writeDriverFeaturesWord(1, 0x80000001);
  assert.is(d.readDriverFeatures(1), 0x80000001);
  assert.is(d.negotiated, 0n, 'not final before FEATURES_OK');
  d.writeStatus(ACK | DRIVER | FEATURES_OK);
  assert.is(d.status, ACK | DRIVER | FEATURES_OK);
  assert.is(d.negotiated, V1 | EVENT_IDX | HIGH);
  assert.ok(d.has(VIRTIO_F_EVENT_IDX));
  assert.ok(d.has(63));
  assert.ok(d.has(VIRTIO_F_VERSION_1));
  assert.not.ok(d.has(5));
  assert.not.ok(d.live);
  d.writeStatus(ACK | DRIVER | FEATURES_OK | DRIVER_OK);
  assert.ok(d.live);
  assert.equal(log, [`features ${(V1 | EVENT_IDX | HIGH).toString(16)}`, 'driver-ok']);
  assert.is(d.lastError, null);
});

test('FEATURES_OK stays clear for features the device did not offer, or without VERSION_1', () => {
  for (const wanted of [V1 | featureMask(40), EVENT_IDX]) {
    const { d } = device();
    d.writeStatus(ACK);
    d.writeStatus(ACK | DRIVER);
    d.writeDriverFeatures(wanted);
    d.writeStatus(ACK | DRIVER | FEATURES_OK);
    assert.is(d.status & FEATURES_OK, 0);
    assert.is(d.lastError?.code, 'ERR_FEATURES');
    assert.is(d.negotiated, 0n);
  }
});

test('a device-specific validator can refuse a combination', () => {
  const { d } = device({ validateFeatures: (f) => (f & 0x20n) === 0n });
  d.writeStatus(ACK | DRIVER);
  d.writeDriverFeatures(V1 | 0x20n);
  d.writeStatus(ACK | DRIVER | FEATURES_OK);
  assert.is(d.status & FEATURES_OK, 0);
});

test('illegal status writes are ignored and recorded, never thrown', () => {
  const { d } = device();
  d.writeStatus(DRIVER); // without ACK
  assert.is(d.status, 0);
  assert.is(d.lastError?.code, 'ERR_STATUS');
  d.writeStatus(ACK);
  d.writeStatus(ACK | FEATURES_OK); // without DRIVER
  assert.is(d.status, ACK);
  d.writeStatus(ACK | DRIVER);
  d.writeStatus(ACK | DRIVER | DRIVER_OK); // modern: DRIVER_OK without FEATURES_OK
  assert.is(d.status, ACK | DRIVER);
  d.writeDriverFeatures(V1);
  d.writeStatus(ACK | DRIVER | FEATURES_OK);
  d.writeStatus(ACK | DRIVER); // clearing a bit without reset
  assert.is(d.status, ACK | DRIVER | FEATURES_OK);
  d.writeDriverFeatures(V1 | EVENT_IDX); // after FEATURES_OK
  assert.is(d.lastError?.code, 'ERR_FEATURES');
  assert.is(d.driverFeatures, V1);
  d.writeStatus(ACK | DRIVER | FEATURES_OK | FAILED);
  assert.ok(d.status & FAILED);
  assert.not.ok(d.live);
});

test('NEEDS_RESET: set by the device, notified only after DRIVER_OK, kept until reset', () => {
  const { d, log } = device();
  d.writeStatus(ACK | DRIVER);
  d.needsReset();
  assert.ok(d.status & NEEDS_RESET);
  assert.equal(log, [], 'no config interrupt before DRIVER_OK');
  const { d: e, log: elog } = device();
  e.writeStatus(ACK | DRIVER);
  e.writeDriverFeatures(V1);
  e.writeStatus(ACK | DRIVER | FEATURES_OK);
  e.writeStatus(ACK | DRIVER | FEATURES_OK | DRIVER_OK);
  e.needsReset(new VirtioError('ERR_DESC_LOOP', 'loop'));
  e.needsReset(new VirtioError('ERR_DESC_LOOP', 'again'));
  assert.equal(elog.slice(-1), ['needs-reset ERR_DESC_LOOP']);
  assert.is(elog.filter((l) => l.startsWith('needs-reset')).length, 1);
  assert.not.ok(e.live);
  // The driver writing back the status it read (or without the device's bit) keeps NEEDS_RESET.
  e.writeStatus(ACK | DRIVER | FEATURES_OK | DRIVER_OK);
  assert.ok(e.status & NEEDS_RESET);
  e.writeStatus(0);
  assert.is(e.status, 0);
  assert.is(e.negotiated, 0n);
  assert.is(e.driverFeatures, 0n);
  assert.ok(elog.includes('reset'));
});

test('legacy: no FEATURES_OK; each features write takes effect masked by the offer (bhyve)', () => {
  const { d, log } = device({ legacy: true });
  d.writeStatus(ACK | DRIVER);
  d.writeDriverFeaturesWord(0, 0xffffffff);
  assert.is(d.negotiated, EVENT_IDX | 0x20n);
  d.writeStatus(ACK | DRIVER | FEATURES_OK);
  assert.is(d.lastError?.code, 'ERR_STATUS');
  d.writeStatus(ACK | DRIVER | DRIVER_OK);
  assert.ok(d.live);
  assert.ok(log.includes('driver-ok'));
});

test('state round-trips through JSON without callbacks; bad state is ERR_STATE', () => {
  const { d } = device();
  d.writeStatus(ACK | DRIVER);
  d.writeDriverFeatures(V1 | EVENT_IDX | HIGH);
  d.writeStatus(ACK | DRIVER | FEATURES_OK);
  d.writeStatus(ACK | DRIVER | FEATURES_OK | DRIVER_OK);
  d.needsReset();
  const json = JSON.stringify(d.saveState());
  const { d: e, log } = device();
  e.restoreState(JSON.parse(json));
  assert.equal(log, []);
  assert.is(e.status, d.status);
  assert.is(e.negotiated, V1 | EVENT_IDX | HIGH);
  assert.ok(e.has(63));
  assert.equal(e.saveState(), d.saveState());
  for (const bad of [null, { status: 300, driverFeatures: '0x0', negotiated: '0x0' }, { status: 1, driverFeatures: 5, negotiated: '0x0' }, { status: 1, driverFeatures: '0x0', negotiated: '0x10000000000' }]) {
    try {
      e.restoreState(bad as never);
      assert.unreachable(JSON.stringify(bad));
    } catch (err) {
      assert.is((err as VirtioError).code, 'ERR_STATE');
    }
  }
});

test.run();
