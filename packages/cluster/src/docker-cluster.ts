import { ClusterError } from './cluster-error.js'
import type { Cluster } from './cluster-node.js'
import type { ResolvedClusterOptions } from './resolve-options.js'

/** Placeholder until the Docker backend lands. */
export async function startDockerCluster(_options: ResolvedClusterOptions): Promise<Cluster> {
  throw new ClusterError('PGROUTE_CLUSTER_DOCKER_UNAVAILABLE', 'The Docker backend is not available yet')
}
