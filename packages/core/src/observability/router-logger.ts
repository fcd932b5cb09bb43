import type { NodeStateEvent, RerouteEvent } from '../core/router-events.js'
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

/** Turns the router's events into log lines. Every text it logs is scrubbed of passwords first. */
export class RouterLog {
  readonly #logger: Logger
  readonly #scrub: (text: string) => string

  constructor(logger: Logger, scrub: (text: string) => string) {
    this.#logger = logger
    this.#scrub = scrub
  }

  /** A node changed state. */
  stateChanged(event: NodeStateEvent): void {
    const fields = { ...event, reason: this.#scrub(event.reason) }
    const message = `pgroute: ${event.role} ${event.node} is ${event.to} (was ${event.from}): ${fields.reason}`
    const log = this.#logger
    // Called as methods: pino's read their own `this`.
    if (event.to === 'down') log.error(fields, message)
    else if (event.to === 'up') log.info(fields, message)
    else log.warn(fields, message)
  }

  /** A read was re-run on another node. */
  rerouted(event: RerouteEvent): void {
    const { error } = event
    const fields = {
      from: event.from,
      reason: event.reason,
      statement: this.#scrub(event.statement),
      error: this.#scrub(error instanceof Error ? error.message : String(error)),
      code: (error as { code?: unknown } | null)?.code,
    }
    this.#logger.warn(fields, `pgroute: read re-run elsewhere after ${event.reason} on ${event.from}`)
  }

  /** A read went to the primary: no replica was eligible, or none had replayed the session's writes. */
  fellBack(node: string, reason: string): void {
    this.#logger.debug({ node, reason }, `pgroute: read sent to the primary ${node} (${reason})`)
  }
}
