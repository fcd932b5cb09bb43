import { ConfigError } from '../errors.js'
import type { ClassifierOptions } from './classification.js'
import { parseFunctionName, type QualifiedName } from './function-matcher.js'

/** Default {@link ClassifierOptions.cacheSize}. */
export const DEFAULT_CACHE_SIZE = 1000
/** Default {@link ClassifierOptions.maxCachedLength}: 8 KiB of text. */
export const DEFAULT_MAX_CACHED_LENGTH = 8192

/** {@link ClassifierOptions} validated, parsed and with defaults applied. */
export interface ResolvedClassifierOptions {
  readonly writeFunctions: readonly QualifiedName[]
  readonly cacheSize: number
  readonly maxCachedLength: number
}

function count(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ConfigError(option, `expected an integer >= 0, got ${JSON.stringify(value) ?? String(value)}`)
  }
  return value
}

/** Validates classifier options up front; throws {@link ConfigError} naming the offending option. */
export function resolveClassifierOptions(options: ClassifierOptions | undefined): ResolvedClassifierOptions {
  if (options === undefined) options = {}
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError(
      'options',
      `expected an object, got ${Array.isArray(options) ? 'an array' : typeof options}`,
    )
  }
  const names = options.writeFunctions ?? []
  if (!Array.isArray(names)) {
    throw new ConfigError('writeFunctions', `expected an array of function names, got ${typeof names}`)
  }
  const writeFunctions = names.map((name: unknown, index) => {
    const parsed = typeof name === 'string' ? parseFunctionName(name.trim()) : undefined
    if (parsed === undefined) {
      throw new ConfigError(
        `writeFunctions[${index}]`,
        `expected a function name like 'log_access' or 'audit.log_access', got ${JSON.stringify(name) ?? String(name)}`,
      )
    }
    return parsed
  })
  return {
    writeFunctions,
    cacheSize: count(options.cacheSize, 'cacheSize', DEFAULT_CACHE_SIZE),
    maxCachedLength: count(options.maxCachedLength, 'maxCachedLength', DEFAULT_MAX_CACHED_LENGTH),
  }
}
