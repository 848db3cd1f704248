// allowedIps: CIDR or single addresses, IPv4 and IPv6. X-Forwarded-For is believed only
// when the direct peer is a configured trusted proxy, and then only its right-most
// address that is not itself a trusted proxy.
import { BlockList, isIP } from 'node:net';

function blockList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/');
    const family = isIP(addr ?? '') === 6 ? 'ipv6' : 'ipv4';
    if (bits !== undefined) list.addSubnet(addr!, Number(bits), family);
    else list.addAddress(addr!, family);
  }
  return list;
}

const normalise = (ip: string): string => (ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip);
const contains = (list: BlockList, ip: string): boolean => {
  const v = isIP(ip);
  return v !== 0 && list.check(ip, v === 6 ? 'ipv6' : 'ipv4');
};

export function clientIp(peer: string, forwardedFor: string | undefined, trustedProxies: BlockList | undefined): string {
  const direct = normalise(peer);
  if (!trustedProxies || !forwardedFor || !contains(trustedProxies, direct)) return direct;
  const hops = forwardedFor.split(',').map((s) => normalise(s.trim())).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (!contains(trustedProxies, hop)) return hop;
  }
  return hops[0] ?? direct;
}

export function ipAllowList(entries: readonly string[]): (ip: string) => boolean {
  const list = blockList(entries);
  return (ip) => contains(list, normalise(ip));
}

export function trustedProxyList(entries: readonly string[]): BlockList | undefined {
  return entries.length > 0 ? blockList(entries) : undefined;
}
