/** Parses a PostgreSQL LSN (`16/B374D848`) into a byte position. */
export function parseLsn(lsn: string): bigint {
  const [high, low] = lsn.split('/')
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`)
}

/** Bytes from `to` up to `from` (negative when `to` is ahead), as a number. */
export function lsnDiff(from: string, to: string): number {
  return Number(parseLsn(from) - parseLsn(to))
}
