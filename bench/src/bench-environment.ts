/**
 * What a bench runs in: its settings from the environment, and a cluster that is always stopped.
 */
import { type Cluster, type StartClusterOptions, startCluster } from '@pgroute/cluster'

/** A positive number from the environment, or `fallback`. Throws on anything else, naming the variable. */
export function envNumber(variable: string, fallback: number): number {
  const text = process.env[variable]
  if (text === undefined || text === '') return fallback
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`${variable} must be a positive number, got ${JSON.stringify(text)}`)
  }
  return value
}

/** Paired rounds per comparison (`BENCH_ROUNDS`, default 15 when a bench runs alone). */
export function rounds(): number {
  return Math.round(envNumber('BENCH_ROUNDS', 15))
}

/** Length of one round in milliseconds (`BENCH_ROUND_MS`, default 1000 when a bench runs alone). */
export function roundMs(): number {
  return envNumber('BENCH_ROUND_MS', 1000)
}

/** Starts a cluster, runs `fn`, and stops the cluster whatever happens. */
export async function withCluster<T>(
  options: StartClusterOptions,
  fn: (cluster: Cluster) => Promise<T>,
): Promise<T> {
  const cluster = await startCluster(options)
  try {
    return await fn(cluster)
  } finally {
    // The servers are unref'd child processes: with every pool ended, nothing else may hold the event loop open
    // while they shut down, and Node would exit mid-await.
    const keepAlive = setInterval(() => {}, 1000)
    try {
      await cluster.stop()
    } finally {
      clearInterval(keepAlive)
    }
  }
}
