/**
 * WAL positions. PostgreSQL prints an LSN as two hex halves, `16/B374D848`; as a bigint they compare and
 * subtract exactly (a plain number would lose precision past 2^53 bytes of WAL).
 */

const LSN_PATTERN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/

/** Parses `X/Y` into a byte position, or returns `undefined` if the text is not an LSN. */
export function parseLsn(text: string): bigint | undefined {
  const match = LSN_PATTERN.exec(text)
  if (!match) return undefined
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`)
}

/** Formats a byte position the way PostgreSQL does (`16/B374D848`). */
export function formatLsn(position: bigint): string {
  return `${(position >> 32n).toString(16).toUpperCase()}/${(position & 0xffffffffn).toString(16).toUpperCase()}`
}

/** Bytes from `from` to `to`, never negative (a probe read first may be slightly older). */
export function lsnDistance(from: bigint, to: bigint): number {
  return to > from ? Number(to - from) : 0
}

/**
 * A WAL position on a timeline. Positions compare only on the same timeline: after a promotion the new timeline
 * forks from the old one, and the same byte position on each names different WAL.
 */
export interface WalPosition {
  readonly lsn: bigint
  /** Timeline id, `undefined` when unknown (a token of the format without one). */
  readonly timeline: number | undefined
}

/** Parses a timeline id given as the 8 hex digits that start a WAL file name, or `undefined`. */
export function parseTimeline(text: string | null | undefined): number | undefined {
  if (!text || !/^[0-9A-Fa-f]{1,8}$/.test(text)) return undefined
  const timeline = Number.parseInt(text, 16)
  return timeline > 0 ? timeline : undefined
}
