#!/bin/sh
# /init of the netbe test guest (tools/guest). Loads the virtio-net modules, then runs /test.sh,
# which the test appends as a second cpio archive, and reports on the serial console with lines
# starting "NETBE-GUEST" that tools/guest/qemu.ts parses. Powers off when the script ends.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp /run
echo 3 > /proc/sys/kernel/printk
# Order matters: each module needs the ones before it (DESIGN.md, "Facts verified").
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net; do
  if [ -f "/lib/modules/netbe/$m.ko" ]; then
    insmod "/lib/modules/netbe/$m.ko" || echo "NETBE-GUEST error insmod $m failed"
  fi
done
ip link set lo up
echo "NETBE-GUEST ready kernel=$(uname -r)"
if [ -x /test.sh ]; then
  /test.sh
  rc=$?
else
  echo "NETBE-GUEST error no /test.sh in the initramfs"
  rc=127
fi
echo "NETBE-GUEST done rc=$rc"
sync
poweroff -f
