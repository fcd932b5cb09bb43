/**
 * Global setup of the whole run: when `PGROUTE_PRIMARY_URL` names an external cluster, every node must answer
 * before any suite starts, so a wrong or unreachable cluster fails the run once, quickly and loudly, instead of in
 * every suite (and never falls back to local servers). `pnpm test:external` without the variables fails too.
 */
import { clusterEnvConfigured, connectExternalCluster } from './packages/cluster/src/testing/index.js'

export default async function checkExternalCluster(): Promise<void> {
  if (!clusterEnvConfigured()) {
    // `pnpm test:external` must never pass on local clusters.
    if (process.env.npm_lifecycle_event === 'test:external') {
      throw new Error('pnpm test:external needs PGROUTE_PRIMARY_URL and PGROUTE_REPLICA_URLS (see README.md)')
    }
    return
  }
  const cluster = await connectExternalCluster(process.env, 20_000)
  const nodes = cluster.nodes.map((node) => `${node.name} ${node.host}:${node.port}`).join(', ')
  console.log(`Integration suites run against the external cluster: ${nodes}`)
}
