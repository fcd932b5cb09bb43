import { invalidOption } from './cluster-error.js'

/**
 * A duration: a number of milliseconds, or a string with a unit such as `'500ms'`, `'2s'`, `'1.5min'` or `'1h'`
 * (a string without a unit counts milliseconds, as PostgreSQL does).
 */
export type Duration = number | string

const unitMs: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 }
const durationPattern = /^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|m|h)?\s*$/

/**
 * Converts a {@link Duration} to whole milliseconds (with `exact`, fractions of a millisecond are kept), throwing a
 * `ClusterError` that names `option` when the value is not a non-negative duration.
 */
export function parseDuration(value: Duration, option: string, { exact = false } = {}): number {
  const round = exact ? (ms: number) => ms : Math.round
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw invalidOption(option, `expected a non-negative number of milliseconds, got ${value}`)
    }
    return round(value)
  }
  const match = typeof value === 'string' ? durationPattern.exec(value) : null
  if (!match) {
    throw invalidOption(
      option,
      `expected a duration such as '500ms', '2s' or 1500, got ${JSON.stringify(value)}`,
    )
  }
  return round(Number(match[1]) * (unitMs[match[2] ?? 'ms'] ?? 1))
}
