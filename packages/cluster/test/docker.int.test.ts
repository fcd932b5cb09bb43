import { existsSync } from 'node:fs'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type Cluster, type ClusterNode, startCluster } from '../src/index.js'

/** A Docker engine is reachable through DOCKER_HOST or the default socket. */
const dockerEngine = Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock')

describe('docker backend without a Docker engine', () => {
  beforeEach((context) => {
    if (dockerEngine)
      context.skip('a Docker engine is reachable here: the docker backend suite below runs instead')
  })

  it('fails with a clear error naming the backend option', async () => {
    await expect(startCluster({ backend: 'docker' })).rejects.toMatchObject({
      code: 'PGROUTE_CLUSTER_DOCKER_UNAVAILABLE',
      option: 'backend',
      message: expect.stringContaining('no reachable Docker engine'),
    })
  })
})

describe('docker backend', () => {
  let cluster: Cluster
  let replica: ClusterNode

  beforeEach((context) => {
    if (!dockerEngine)
      context.skip('needs a Docker engine (DOCKER_HOST or /var/run/docker.sock); none is reachable')
  })

  beforeAll(async () => {
    if (!dockerEngine) return
    cluster = await startCluster({ backend: 'docker', replicas: 2 })
    replica = cluster.replicas[0]!
  }, 300_000)

  afterAll(async () => {
    await cluster?.stop()
  })

  it('streams from the primary to hot standbys', async () => {
    expect((await replica.query('SELECT pg_is_in_recovery() AS r')).rows).toEqual([{ r: true }])
    await cluster.primary.query('CREATE TABLE t (id int)')
    await cluster.primary.query('INSERT INTO t VALUES (1)')
    await cluster.waitForReplication({ timeoutMs: 30_000 })
    for (const node of cluster.replicas)
      expect((await node.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 1 }])
  })

  it('pauses replay and changes the apply delay', async () => {
    await replica.pauseReplay()
    await cluster.primary.query('INSERT INTO t VALUES (2)')
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect((await replica.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 1 }])
    await replica.resumeReplay()
    await cluster.waitForReplication({ replicas: [replica], timeoutMs: 30_000 })
    await replica.setApplyDelay('1s')
    await replica.setApplyDelay(0)
  })

  it('promotes a replica and re-points the other one', async () => {
    await cluster.promote(replica)
    expect(cluster.primary).toBe(replica)
    await replica.query('INSERT INTO t VALUES (3)')
    await cluster.waitForReplication({ timeoutMs: 30_000 })
    const follower = cluster.replicas[0]!
    expect((await follower.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 3 }])
  })
})
