/**
 * Shell fragments for guest test scripts (busybox sh), so tests share one tested version.
 */

/**
 * Brings eth0 up and configures it by DHCP with busybox udhcpc. Prints
 * `NETBE-RESULT dhcp <ip> router <router> dns <dns> search <search>` when a lease is bound.
 * `requestOptions` are extra DHCP options to ask for (udhcpc -O, e.g. "search").
 */
export function dhcpClientScript(o: { requestOptions?: readonly string[]; iface?: string } = {}): string {
  const iface = o.iface ?? 'eth0';
  const extra = (o.requestOptions ?? []).map((x) => ` -O ${x}`).join('');
  return `cat > /tmp/dhcp.sh <<'NETBE_DHCP_EOF'
#!/bin/sh
case "$1" in bound|renew)
  ip addr flush dev "$interface"
  ip addr add "$ip/\${mask:-24}" dev "$interface"
  [ -n "$router" ] && ip route add default via "$router"
  echo "NETBE-RESULT dhcp $ip router $router dns $dns search $search"
;; esac
NETBE_DHCP_EOF
chmod +x /tmp/dhcp.sh
ip link set ${iface} up
udhcpc -i ${iface} -n -q -t 5 -T 2${extra} -s /tmp/dhcp.sh
`;
}
