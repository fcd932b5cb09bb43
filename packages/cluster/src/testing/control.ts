import type { Cluster } from '../cluster-node.js'
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

const majors = new WeakMap<Cluster, Promise<number>>()

/**
 * Declares that the running test needs PostgreSQL `major` or newer (e.g. for `MERGE ... RETURNING`, 17): it is
 * skipped, with the reason, on an older primary. Local clusters run PostgreSQL 18; external ones may be older.
 *
 * @example
 * ```ts
 * it('MERGE runs on the primary', async (context) => {
 *   await requireServerVersion(context, cluster, 17, 'MERGE ... RETURNING')
 * })
 * ```
 */
export async function requireServerVersion(
  context: SkippableContext,
  cluster: Cluster,
  major: number,
  feature: string,
): Promise<void> {
  let known = majors.get(cluster)
  if (!known) {
    known = cluster.primary
      .query<{ version: string }>("SELECT current_setting('server_version_num') AS version")
      .then(({ rows }) => Math.floor(Number(rows[0]?.version) / 10_000))
    majors.set(cluster, known)
  }
  const actual = await known
  if (actual < major) context.skip(`needs PostgreSQL ${major}+ (${feature}); the cluster runs ${actual}`)
}
