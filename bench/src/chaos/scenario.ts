/** The contract of a chaos scenario: what it breaks while the load runs, and the rule its figures must meet. */
import type { Router, RouterOptions } from '@pgroute/core'
import type { ChaosEnvironment } from './chaos-environment.js'
import type { ChaosMetrics } from './chaos-metrics.js'
import type { DeploymentShape } from './deployment-shape.js'
import type { LoadDriver } from './load-driver.js'

/** What a scenario gets while its load runs. */
export interface ScenarioContext {
  readonly env: ChaosEnvironment
  readonly router: Router
  readonly metrics: ChaosMetrics
  /** The running load (for bursts on top of it). */
  readonly load: LoadDriver
  /** Load duration of this run, in ms. */
  readonly durationMs: number
  /** Resolves after `ms`. */
  wait(ms: number): Promise<void>
}

/** What the runner measured of one scenario, handed to its rule. */
export interface ScenarioReport {
  readonly metrics: ChaosMetrics
  /** Calls still unsettled 10 s after the load stopped. */
  readonly unfinished: number
  /** How long `router.end()` took, or undefined when it had not resolved after 15 s. */
  readonly endMs: number | undefined
  /** Client connections still open on the servers after `router.end()`. */
  readonly serverConnections: number
  /** Sockets of this process still open to the servers after `router.end()`. */
  readonly clientSockets: number
  /** Writes the callers saw succeed that the primary does not have at the end. */
  readonly lostWrites: number
  /** Their keys (to tell the sessions whose writes were lost from those whose writes survived). */
  readonly lostKeys: ReadonlySet<string>
  /** When the load stopped (`performance.now()`). */
  readonly loadEndedAt: number
}

/** One row of `pnpm chaos`. */
export interface Scenario {
  /** Name used by `--only` and in the table. */
  readonly name: string
  /** What it does, for `--help`. */
  readonly summary: string
  /** Its pass rule in words, for `--help` and the report. */
  readonly rule: string
  /** Shortest load it can run in (a 10 s hang needs more than 10 s), in ms. */
  readonly minDurationMs?: number
  /** Why it cannot run here (e.g. Patroni not installed), or undefined when it can. */
  unavailable?(): string | undefined
  /** Deployment shapes (`--via`) it cannot run in, each with the reason. */
  readonly unsupportedVia?: Partial<Record<DeploymentShape, string>>
  /** The servers to run against; default: a fresh embedded 1 + 2 cluster. */
  environment?(): Promise<ChaosEnvironment>
  /**
   * Whether the scenario makes acknowledged writes get lost on purpose (a lost tail, a promotion beside a running
   * primary): its rule judges them (who was told), instead of the runner failing the row for any.
   */
  readonly losesWrites?: boolean
  /** Router options on top of the runner's. */
  readonly routerOptions?: Partial<RouterOptions>
  /** Breaks things while the load runs, and heals them (in a `finally`) before it resolves. */
  inject(context: ScenarioContext): Promise<void>
  /** Why the figures fail the rule; empty when they pass. Leaks and unsettled calls are checked by the runner. */
  judge(report: ScenarioReport): string[]
}
