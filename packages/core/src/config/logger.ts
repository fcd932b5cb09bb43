import { ConfigError } from '../errors.js'

/** A log method as pino has it: fields first, then the message. `console` fits too. */
export type LogMethod = (fields: Record<string, unknown>, message: string) => void

/**
 * What the `logger` option takes: a pino-compatible logger (pino, or anything with these four methods, e.g. a
 * pino child, `console`). pgroute logs node state changes (`info` when a node comes up, `warn` when it lags or is
 * fenced, `error` when it goes down), reads re-run elsewhere (`warn`) and reads that fell back to the primary
 * (`debug`). Fields never contain a password.
 */
export interface Logger {
  readonly debug: LogMethod
  readonly info: LogMethod
  readonly warn: LogMethod
  readonly error: LogMethod
}

const LEVELS = ['debug', 'info', 'warn', 'error'] as const

/** Validates the `logger` option: `undefined`, or an object with the four methods. */
export function resolveLogger(value: unknown): Logger | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null) {
    throw new ConfigError('logger', 'expected a logger with debug, info, warn and error methods (e.g. pino)')
  }
  for (const level of LEVELS) {
    if (typeof (value as Record<string, unknown>)[level] !== 'function') {
      throw new ConfigError(`logger.${level}`, 'expected a function (a pino-compatible logger)')
    }
  }
  return value as Logger
}
