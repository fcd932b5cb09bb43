import { ConfigError } from '@pgroute/core'

const CASINGS = ['snake_case', 'camelCase']

/**
 * Checks the Drizzle configuration up front, where Drizzle itself would fail late or not at all: it must be a
 * plain object without a connection of its own, with a well-formed `schema`, `logger` and `casing`.
 */
export function validateDrizzleConfig(config: unknown): void {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ConfigError(
      'config',
      `expected Drizzle's configuration object, got ${config === null ? 'null' : typeof config}`,
    )
  }
  const { client, connection, schema, logger, casing } = config as Record<string, unknown>
  for (const [option, value] of [
    ['client', client],
    ['connection', connection],
  ] as const) {
    if (value !== undefined) {
      throw new ConfigError(
        option,
        'the router provides the connections: pass the router, not a client or connection',
      )
    }
  }
  if (schema !== undefined && (typeof schema !== 'object' || schema === null)) {
    throw new ConfigError('schema', 'expected an object of tables and relations (`import * as schema`)')
  }
  const isLogger = typeof (logger as { logQuery?: unknown } | null)?.logQuery === 'function'
  if (logger !== undefined && typeof logger !== 'boolean' && !isLogger) {
    throw new ConfigError('logger', 'expected a boolean or an object with a `logQuery(query, params)` method')
  }
  if (casing !== undefined && !CASINGS.includes(casing as string)) {
    throw new ConfigError('casing', `expected ${CASINGS.map((c) => `'${c}'`).join(' or ')}`)
  }
}
