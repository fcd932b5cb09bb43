import { type Duration, isClusterError, parseDuration } from '@pgroute/cluster'

/** Which example app the demo runs. */
export type DemoApp = 'kysely' | 'drizzle'

/** Where the demo prints its live table and summary: `process.stdout` or anything shaped like it. */
export interface DemoOutput {
  write(text: string): unknown
  /** Redraw the table in place (ANSI) when true; print one line per second otherwise. */
  readonly isTTY?: boolean
}

/** Options of `runDemo()`. Every field is optional. */
export interface DemoOptions {
  /** Example app to run. Default `'kysely'`. */
  readonly app?: DemoApp
  /** Seconds of traffic. Default 20. */
  readonly duration?: number
  /** Concurrent virtual users, each with its own read-your-writes token. Default 8. */
  readonly users?: number
  /** Stop replica-1 (immediate shutdown) a third of the way in and start it again at two thirds. Default false. */
  readonly killReplica?: boolean
  /**
   * Authors send their read-your-writes token back with each request. Default true. `false` shows what the token
   * prevents: reads right after a write reach the late replica and miss it (the run then reports stale reads).
   */
  readonly tokens?: boolean
  /**
   * Put replica-1 this far away: a delay proxy in front of it adds this round-trip time to every exchange with it
   * (`'3ms'`, `'0.5ms'` or milliseconds, up to 1 s), as for a replica in another zone. Default: none.
   */
  readonly farReplica?: Duration
  /** Where to print. Default `process.stdout`; `false` prints nothing. */
  readonly output?: DemoOutput | false
  /** Stops the demo early (Ctrl-C): traffic ends, everything started is stopped, the summary is returned. */
  readonly signal?: AbortSignal
}

/** {@link DemoOptions} with defaults applied and values checked. */
export interface ResolvedDemoOptions {
  readonly app: DemoApp
  readonly duration: number
  readonly users: number
  readonly killReplica: boolean
  readonly tokens: boolean
  /** Round-trip time added to replica-1, in ms; `undefined`: none. */
  readonly farReplicaMs: number | undefined
  readonly output: DemoOutput | undefined
  readonly signal: AbortSignal | undefined
}

const demoOptionErrorBrand = Symbol.for('pgroute.demo-option-error')

/** A demo option (or command-line flag) has an invalid value; `option` names it. */
export class DemoOptionError extends Error {
  readonly code = 'DEMO_INVALID_OPTION'
  readonly option: string

  constructor(option: string, message: string) {
    super(`Invalid option \`${option}\`: ${message}`)
    this.name = 'DemoOptionError'
    this.option = option
    Object.defineProperty(this, demoOptionErrorBrand, { value: true })
  }
}

/** True for a {@link DemoOptionError}. */
export function isDemoOptionError(error: unknown): error is DemoOptionError {
  return typeof error === 'object' && error !== null && demoOptionErrorBrand in error
}

/** Applies defaults and validates, throwing a {@link DemoOptionError} that names the bad option. */
export function resolveDemoOptions(options: DemoOptions = {}): ResolvedDemoOptions {
  const {
    app = 'kysely',
    duration = 20,
    users = 8,
    killReplica = false,
    tokens = true,
    farReplica,
    output,
    signal,
  } = options
  if (app !== 'kysely' && app !== 'drizzle') {
    throw new DemoOptionError('app', `expected 'kysely' or 'drizzle', got ${JSON.stringify(app)}`)
  }
  if (typeof duration !== 'number' || !Number.isFinite(duration) || duration < 1 || duration > 3600) {
    throw new DemoOptionError('duration', `expected seconds from 1 to 3600, got ${String(duration)}`)
  }
  if (!Number.isInteger(users) || users < 1 || users > 64) {
    throw new DemoOptionError('users', `expected an integer from 1 to 64, got ${String(users)}`)
  }
  if (typeof killReplica !== 'boolean') {
    throw new DemoOptionError('killReplica', `expected a boolean, got ${typeof killReplica}`)
  }
  if (typeof tokens !== 'boolean')
    throw new DemoOptionError('tokens', `expected a boolean, got ${typeof tokens}`)
  const farReplicaMs = farReplica === undefined ? undefined : distance(farReplica)
  return {
    app,
    duration,
    users,
    killReplica,
    tokens,
    farReplicaMs,
    output: output === false ? undefined : (output ?? process.stdout),
    signal,
  }
}

/** The `farReplica` round-trip time in ms: more than 0, at most one second. */
function distance(value: Duration): number {
  let ms: number
  try {
    ms = parseDuration(value, 'farReplica', { exact: true })
  } catch (error) {
    if (!isClusterError(error)) throw error
    throw new DemoOptionError(
      'farReplica',
      `expected a round-trip time such as '3ms', got ${JSON.stringify(value)}`,
    )
  }
  if (ms <= 0 || ms > 1000) {
    throw new DemoOptionError('farReplica', `expected more than 0 and at most 1 s, got ${ms} ms`)
  }
  return ms
}
