/**
 * What a chaos scenario measures while its load runs: every caller-visible outcome with its latency, stale session
 * reads, where the router sent statements, and named moments of the scenario (fault injected, healed, ...).
 */

/**
 * Kinds of calls the load makes: `read` includes reads inside sessions and read-only transactions, `write` includes
 * read-write transactions, `token` is `router.token()`.
 */
export type OpKind = 'read' | 'write' | 'token'

/** One finished call. */
interface Outcome {
  readonly kind: OpKind
  readonly startedAt: number
  readonly endedAt: number
  /** `Class:code` of the error the caller saw, absent on success. */
  readonly error?: string
}

/**
 * One acknowledged write of a `router.session()` scope, and what the session was told afterwards: the lost-write
 * rules compare it with whether the row exists on the primary at the end.
 */
export interface SessionWrite {
  readonly key: string
  /** When the write was acknowledged (`performance.now()`). */
  readonly at: number
  /**
   * The calls the session (or a later session continuing from its token) made after the write, and how each came
   * out: `seen` (the row was read back), `missing` (read back nothing, no error), or the error class the caller
   * got (`PgRouteError:PGROUTE_WRITES_LOST` when told the write was lost).
   */
  readonly later: Array<{ readonly at: number; readonly outcome: string }>
}

/** Error class of the typed error that tells a session its acknowledged writes were lost. */
export const writesLost = 'PgRouteError:PGROUTE_WRITES_LOST'

/**
 * How a session call that failed came out, for the lost-write rules: the error class, and ` (unknown)` after a
 * `PGROUTE_WRITES_LOST` whose outcome is `unknown` (the write completed within a round trip of the switch point:
 * the router cannot tell whether it was lost, and says so).
 */
export function sessionOutcome(error: unknown): string {
  const unknown = (error as { outcome?: unknown } | null)?.outcome === 'unknown'
  return `${errorClass(error)}${unknown && errorClass(error) === writesLost ? ' (unknown)' : ''}`
}

/** `PgRouteError:PGROUTE_CLOSED`, `DatabaseError:53300`, `Error:-` (no code): how a caller could tell errors apart. */
export function errorClass(error: unknown): string {
  if (!(error instanceof Error)) return `${typeof error}:-`
  const code = (error as { code?: unknown }).code
  return `${error.constructor.name}:${typeof code === 'string' ? code : '-'}`
}

/** Collects a scenario's outcomes. Times are `performance.now()` milliseconds. */
export class ChaosMetrics {
  readonly outcomes: Outcome[] = []
  /** Statements routed per node name, with the time they were routed. */
  readonly routes: Array<{ readonly node: string; readonly at: number }> = []
  /** Nodes the router marked down, with the time. */
  readonly downEvents: Array<{ readonly node: string; readonly at: number; readonly reason: string }> = []
  /** Every state change the router reported (`node-state`), with the time. */
  readonly stateEvents: Array<{
    readonly node: string
    readonly at: number
    readonly to: string
    readonly reason: string
  }> = []
  /** Named moments of the scenario. */
  readonly marks = new Map<string, number>()
  /**
   * Read-write transactions run again by the load after failing with `outcome: 'aborted'` (the contract a caller
   * follows: such a transaction did not commit, and running it again cannot apply it twice).
   */
  transactionReruns = 0
  /** Session reads that ran after the session's own successful write. */
  sessionReads = 0
  /** ... and did not see it. */
  staleReads = 0
  /** Token-carrying reads whose write happened before the `fault` mark and whose read ran after `healed`. */
  spanningReads = 0
  /** Keys of writes the callers saw succeed (checked against the true primary at the end). */
  readonly acknowledged: string[] = []
  /** Session writes by key, with what the session was told after the fault (see {@link SessionWrite}). */
  readonly sessionWrites = new Map<string, SessionWrite>()
  /** Notes a scenario adds for the report (e.g. what hostile input got back). */
  readonly notes: string[] = []
  /** Tally of outcomes of hostile calls, by what was sent and what came back. */
  readonly hostile = new Map<string, number>()

  /** Records a call's outcome. */
  record(kind: OpKind, startedAt: number, error?: unknown): void {
    const endedAt = performance.now()
    this.outcomes.push(
      error === undefined
        ? { kind, startedAt, endedAt }
        : { kind, startedAt, endedAt, error: errorClass(error) },
    )
  }

  /** Marks a named moment now (`fault`, `healed`, ...). */
  mark(name: string): void {
    this.marks.set(name, performance.now())
  }

  /** Counts one hostile call's outcome under `what`. */
  tallyHostile(what: string): void {
    this.hostile.set(what, (this.hostile.get(what) ?? 0) + 1)
  }

  /** Calls of `kind` (or all) that failed, optionally only those started at or after `since`. */
  failures(kind?: OpKind, since = 0): Outcome[] {
    return this.outcomes.filter(
      (outcome) => outcome.error && (!kind || outcome.kind === kind) && outcome.startedAt >= since,
    )
  }

  /** Statements routed to `node` at or after `since`. */
  routedTo(node: string, since = 0): number {
    return this.routes.filter((route) => route.node === node && route.at >= since).length
  }

  /**
   * Error classes with counts, most frequent first: `write PgRouteError:PGROUTE_CLOSED×3, read DatabaseError:53300×1`;
   * with `most`, only that many classes and how many more there are.
   */
  errorSummary(most = Number.POSITIVE_INFINITY): string {
    const counts = new Map<string, number>()
    for (const { error, kind } of this.outcomes) {
      if (error) counts.set(`${kind} ${error}`, (counts.get(`${kind} ${error}`) ?? 0) + 1)
    }
    const sorted = [...counts].sort((a, b) => b[1] - a[1]).map(([name, count]) => `${name}×${count}`)
    const more = sorted.length - most
    return sorted.slice(0, most).join(', ') + (more > 0 ? `, +${more} more` : '')
  }

  /** Latency percentile (0..1) over every call, in ms. */
  latency(quantile: number): number {
    return percentile(
      this.outcomes.map((o) => o.endedAt - o.startedAt),
      quantile,
    )
  }

  /** Latency percentile (0..1) of the calls of `kind` started from `from` to `to`, in ms (0 when none). */
  latencyOf(kind: OpKind, quantile: number, from = 0, to = Number.POSITIVE_INFINITY): number {
    return percentile(
      this.outcomes
        .filter((o) => o.kind === kind && o.startedAt >= from && o.startedAt <= to)
        .map((o) => o.endedAt - o.startedAt),
      quantile,
    )
  }

  /** Records a session's write the caller saw succeed. */
  sessionWrite(key: string): void {
    this.sessionWrites.set(key, { key, at: performance.now(), later: [] })
  }

  /** Records how a call of the session that wrote `key` (or continues from its token) came out. */
  sessionCall(key: string, startedAt: number, outcome: string): void {
    this.sessionWrites.get(key)?.later.push({ at: startedAt, outcome })
  }

  /**
   * Milliseconds from the `fault` mark to the end of the last failed call after it: how long callers were
   * affected. 0 without errors; undefined when errors went on into the last second of the load (not recovered).
   */
  recoveryMs(loadEndedAt: number): number | undefined {
    const fault = this.marks.get('fault') ?? 0
    const last = Math.max(0, ...this.failures(undefined, 0).map((o) => o.endedAt))
    if (last === 0) return 0
    if (last > loadEndedAt - 1000) return undefined
    return Math.max(0, last - fault)
  }
}

/** The `quantile` (0..1) of `values`, 0 when empty. */
function percentile(values: number[], quantile: number): number {
  if (values.length === 0) return 0
  const sorted = values.sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(quantile * sorted.length) - 1)]!
}
