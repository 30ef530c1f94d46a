import { BlockList, isIP } from 'node:net';

/**
 * Where a webhook may point (SSRF): its host is resolved and every address it resolves to must be
 * a public unicast address, unless the operator allowlisted it (FLEETGUARD_WEBHOOK_ALLOWED_HOSTS)
 * for an internal receiver. Even then, the service's own ports on an internal address are refused.
 * Checked at registration and again before every delivery (the name may resolve differently by
 * then: DNS rebinding).
 *
 * Decimal, octal and hex IPv4 forms (`http://2130706433/`, `http://0177.0.0.1/`) need no special
 * case: the WHATWG URL parser (which fetch uses too) normalises them to dotted quads first.
 */
const RANGES: Array<[string, number, 'ipv4' | 'ipv6', string]> = [
  ['0.0.0.0', 8, 'ipv4', 'this network'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.0.0.0', 24, 'ipv4', 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'ipv4', 'documentation'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['198.18.0.0', 15, 'ipv4', 'benchmarking'],
  ['198.51.100.0', 24, 'ipv4', 'documentation'],
  ['203.0.113.0', 24, 'ipv4', 'documentation'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['64:ff9b:1::', 48, 'ipv6', 'local NAT64'],
  ['100::', 64, 'ipv6', 'discard'],
  ['2001:db8::', 32, 'ipv6', 'documentation'],
  ['fc00::', 7, 'ipv6', 'unique-local'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['fec0::', 10, 'ipv6', 'site-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];

const blocks = RANGES.map(([net, prefix, family, name]) => {
  const b = new BlockList();
  b.addSubnet(net, prefix, family);
  return { b, family, name };
});

/** An IPv4 address carried in IPv6 (mapped ::ffff:a.b.c.d, or NAT64 64:ff9b::a.b.c.d), as IPv4. */
function embeddedIpv4(address: string): string | null {
  const m = /^(?:::ffff:|64:ff9b::)(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(address);
  if (!m) return null;
  if (m[1]) return m[1];
  const hi = parseInt(m[2], 16);
  const lo = parseInt(m[3], 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** The name of the non-public range an IP address is in, or null for a public unicast address. */
export function internalRange(address: string): string | null {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const v4 = isIP(bare) === 6 ? embeddedIpv4(bare) : null;
  const ip = v4 ?? bare;
  const family = isIP(ip) === 4 ? 'ipv4' : isIP(ip) === 6 ? 'ipv6' : null;
  if (!family) return 'not an IP address';
  for (const { b, family: f, name } of blocks) if (f === family && b.check(ip, family)) return name;
  return null;
}

export interface TargetPolicy {
  /** Host names, IP addresses or CIDR ranges an operator allows although internal. */
  allowed: string[];
  /** Ports the service itself listens on. */
  ownPorts: number[];
  lookup(host: string): Promise<string[]>;
}

export type TargetVerdict = { ok: true; addresses: string[] } | { ok: false; reason: string; unresolved?: true };

function allowedBy(policy: TargetPolicy, host: string, address: string): boolean {
  for (const entry of policy.allowed) {
    const e = entry.trim().toLowerCase();
    if (!e) continue;
    if (e === host.toLowerCase() || e === address) return true;
    const m = /^(.+)\/(\d{1,3})$/.exec(e);
    if (m && isIP(m[1])) {
      const family = isIP(m[1]) === 4 ? 'ipv4' : 'ipv6';
      const b = new BlockList();
      try {
        b.addSubnet(m[1], Number(m[2]), family);
      } catch {
        continue;
      }
      const a = (isIP(address) === 6 && embeddedIpv4(address)) || address;
      if (isIP(a) && b.check(a, isIP(a) === 4 ? 'ipv4' : 'ipv6')) return true;
    }
  }
  return false;
}

/** Resolves a webhook URL's host and says whether the service may POST to it. */
export async function checkWebhookTarget(rawUrl: string, policy: TargetPolicy): Promise<TargetVerdict> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return { ok: false, reason: 'not an absolute URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: `scheme ${url.protocol} is not http or https` };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = await policy.lookup(host);
    } catch (e) {
      return { ok: false, reason: `host ${host} does not resolve (${(e as { code?: string }).code ?? 'lookup failed'})`, unresolved: true };
    }
    if (!addresses.length) return { ok: false, reason: `host ${host} does not resolve`, unresolved: true };
  }
  for (const a of addresses) {
    const range = internalRange(a);
    if (!range) continue;
    if (!allowedBy(policy, host, a)) return { ok: false, reason: `${host} resolves to ${a} (${range}); internal receivers must be allowlisted in FLEETGUARD_WEBHOOK_ALLOWED_HOSTS` };
    if (policy.ownPorts.includes(port)) return { ok: false, reason: `${host}:${port} is one of this service's own listeners` };
  }
  return { ok: true, addresses };
}
