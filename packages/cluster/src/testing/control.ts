import { clusterEnvConfigured } from './cluster-env.js'

/** What {@link requireControl} needs of a test context: vitest's `TestContext` (and Jest-like ones) fit. */
export interface SkippableContext {
  /** Skips the running test; `note` is shown next to it in the report. */
  skip(note?: string): void
}

/**
 * Declares that the running test needs control of the servers (stop, start, kill, pause replay, promote, or a
 * replica that replays late). On an external cluster (`PGROUTE_PRIMARY_URL` set) the test is skipped and the
 * report shows why; on a local cluster it does nothing.
 *
 * @example
 * ```ts
 * it('fails over', async (context) => {
 *   requireControl(context, 'promotes a replica')
 *   await cluster.promote(cluster.replicas[0])
 * })
 * ```
 */
export function requireControl(
  context: SkippableContext,
  need: string,
  env: NodeJS.ProcessEnv = process.env,
): void {
  if (clusterEnvConfigured(env)) context.skip(`needs control of the servers: ${need}`)
}
