import type pg from 'pg'
import { ConfigError } from '../errors.js'

/*
 * Readers of single option values: each validates what it is given under the option's name (a ConfigError naming
 * it) and applies the default when it is not given.
 */

/** The longest delay Node's timers take (2³¹−1 ms, about 24.8 days): a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * A number option: `fallback` when not given, else a number within `min`..`max` (an integer with `integer`,
 * Infinity allowed with `infinite`).
 */
export function number(
  value: unknown,
  option: string,
  fallback: number,
  {
    min = 0,
    max = Number.POSITIVE_INFINITY,
    integer = false,
    infinite = false,
  }: { min?: number; max?: number; integer?: boolean; infinite?: boolean } = {},
): number {
  if (value === undefined) return fallback
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    value >= min &&
    value <= max &&
    (infinite ? true : Number.isFinite(value)) &&
    (!integer || !Number.isFinite(value) || Number.isInteger(value))
  if (!ok) {
    const range = max === Number.POSITIVE_INFINITY ? `>= ${min}` : `from ${min} to ${max}`
    const why = max === MAX_TIMER_MS ? " (2³¹−1 ms: the longest delay Node's timers take)" : ''
    const expected = `${integer ? 'an integer' : 'a number'} ${range}${infinite ? ' (or Infinity)' : ''}`
    throw new ConfigError(option, `expected ${expected}${why}, got ${JSON.stringify(value) ?? String(value)}`)
  }
  return value as number
}

/**
 * An option with a new spelling and a deprecated one (`section.name` and `section.old`): the value given under
 * either, validated under the name it was given as. Both at once is an error.
 */
export function renamed<T>(
  value: Record<string, unknown>,
  section: string,
  name: string,
  old: string,
  read: (given: unknown, option: string) => T,
): T {
  if (value[name] !== undefined && value[old] !== undefined) {
    throw new ConfigError(
      `${section}.${old}`,
      `give either \`${section}.${name}\` or \`${section}.${old}\` (deprecated), not both`,
    )
  }
  return value[old] !== undefined
    ? read(value[old], `${section}.${old}`)
    : read(value[name], `${section}.${name}`)
}

/** Validates the `types` option: `undefined`, or pg's types (an object with `getTypeParser`). */
export function typeParsers(value: unknown): pg.CustomTypesConfig | undefined {
  if (value === undefined) return undefined
  if (typeof (value as pg.CustomTypesConfig | null)?.getTypeParser !== 'function') {
    throw new ConfigError(
      'types',
      "expected pg's types: an object with a getTypeParser function (e.g. pg.types)",
    )
  }
  return value as pg.CustomTypesConfig
}

/** A boolean option: `fallback` when not given. */
export function boolean(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new ConfigError(option, `expected a boolean, got ${typeof value}`)
  return value
}
