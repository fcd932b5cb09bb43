/*
 * What the generator scripts of the classifier's data share: the PostgreSQL majors they cover and a way to run
 * queries on a throw-away local server of each.
 */
import { type Cluster, startCluster } from '@pgroute/cluster'

/** Where a supported major's server comes from: the npm package (no `binDir`) or a directory of binaries. */
export interface ServerSource {
  readonly binDir?: string
}

/**
 * The servers the scripts read: the embedded package's (PostgreSQL 18) and every `--pg-bin DIR` given on the
 * command line (e.g. Debian's `/usr/lib/postgresql/15/bin`).
 */
export function serverSources(argv: readonly string[]): ServerSource[] {
  const sources: ServerSource[] = [{}]
  for (let i = 0; i < argv.length; i++) if (argv[i] === '--pg-bin') sources.push({ binDir: argv[++i]! })
  return sources
}

/** The value following `flag` on the command line, or undefined. */
export function option(argv: readonly string[], flag: string): string | undefined {
  const at = argv.indexOf(flag)
  return at < 0 ? undefined : argv[at + 1]
}

/** Starts a cluster from `source` (a primary and `replicas` standbys), runs `work`, and stops it. */
export async function withServer<T>(
  source: ServerSource,
  replicas: number,
  work: (cluster: Cluster, major: number) => Promise<T>,
  postgresConfig: Readonly<Record<string, string | number | boolean>> = {},
): Promise<T> {
  const cluster = await startCluster({
    replicas,
    ...(source.binDir === undefined ? {} : { binDir: source.binDir }),
    postgresConfig,
  })
  try {
    const { rows } = await cluster.primary.query<{ v: string }>(
      "SELECT current_setting('server_version_num') AS v",
    )
    return await work(cluster, Math.floor(Number(rows[0]!.v) / 10_000))
  } finally {
    await cluster.stop()
  }
}
