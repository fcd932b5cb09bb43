/** A parsed IPv4 network in CIDR notation. */
export interface Ipv4Cidr {
  /** The network address as an unsigned 32-bit integer. */
  readonly address: number
  /** Prefix length, 0 to 32. */
  readonly prefix: number
}

const cidrPattern = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/

/**
 * Parses `a.b.c.d/n`. Returns the problem as a string when the text is not a network in canonical form:
 * octets above 255, prefixes above 32, or host bits set (`203.0.113.7/24` names no network; security groups
 * and pg_hba would each interpret it differently, so it is refused with the intended network suggested).
 */
export function parseIpv4Cidr(text: string): Ipv4Cidr | string {
  const match = cidrPattern.exec(text)
  if (!match) return `expected an IPv4 network such as 203.0.113.7/32, got ${JSON.stringify(text)}`
  const octets = match.slice(1, 5).map(Number)
  const prefix = Number(match[5])
  if (octets.some((octet) => octet > 255)) return `${text} has an octet above 255`
  if (prefix > 32) return `${text} has a prefix length above 32`
  const address = octets.reduce((value, octet) => value * 256 + octet, 0)
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  const network = (address & mask) >>> 0
  if (network !== address)
    return `${text} has host bits set; did you mean ${formatIpv4Cidr({ address: network, prefix })}?`
  return { address, prefix }
}

/** Formats a network back to `a.b.c.d/n`. */
export function formatIpv4Cidr(cidr: Ipv4Cidr): string {
  const octets = [24, 16, 8, 0].map((shift) => (cidr.address >>> shift) & 0xff)
  return `${octets.join('.')}/${cidr.prefix}`
}

/** True when `inner` lies entirely within `outer`. */
export function ipv4CidrContains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  if (inner.prefix < outer.prefix) return false
  const mask = outer.prefix === 0 ? 0 : (0xffffffff << (32 - outer.prefix)) >>> 0
  return (inner.address & mask) >>> 0 === outer.address
}
