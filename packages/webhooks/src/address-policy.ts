import ipaddr from 'ipaddr.js'

/**
 * True when an IP address is an ordinary public unicast address a webhook may be sent to. Refused:
 * loopback, private (10/8, 172.16/12, 192.168/16), link-local (169.254/16, the cloud metadata
 * address among them; fe80::/10), unique-local (fc00::/7), unspecified, CGNAT (100.64/10),
 * multicast, broadcast, reserved and documentation ranges, and IPv6 forms that embed an IPv4
 * address judged by that address (IPv4-mapped `::ffff:a.b.c.d`). Not an IP address: false.
 */
export function isPublicAddress(address: string): boolean {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address
  if (!ipaddr.isValid(bare)) return false
  const parsed = ipaddr.parse(bare)
  if (parsed.kind() === 'ipv6') {
    const v6 = ipaddr.IPv6.parse(bare)
    if (v6.isIPv4MappedAddress()) return isPublicAddress(v6.toIPv4Address().toString())
  }
  return parsed.range() === 'unicast'
}
