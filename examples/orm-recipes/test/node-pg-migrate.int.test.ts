import type { Cluster } from '@pgroute/cluster'
import { requireControl, routerOptions } from '@pgroute/cluster/testing'
import { createRouter, type Router } from '@pgroute/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrate } from '../src/node-pg-migrate.js'
import { expectReplicaReads, LATE, startRecipeCluster } from './harness.js'

let cluster: Cluster
let router: Router
/** What reads right after the migration, outside its session, found: the server, or the error's code. */
const outside: Array<number | string> = []

beforeAll(async () => {
  cluster = await startRecipeCluster()
  router = createRouter(routerOptions(cluster))
  await router.ready()
})

afterAll(async () => {
  await router?.end()
  await cluster?.stop()
})

const READ_TAGS = 'SELECT name, created_by, inet_server_port() AS served_by FROM tags'

/** One read of the migrated table: the server that answered, or the error's SQLSTATE. */
async function readTags(): Promise<number | string> {
  try {
    const { rows } = await router.query(READ_TAGS)
    return rows[0]?.served_by ?? 'no row'
  } catch (error) {
    return (error as { code?: string }).code ?? String(error)
  }
}

describe('node-pg-migrate on a client of router.primary', () => {
  it('migrates on the primary; reads in the same router.session() see the new table', async () => {
    const inSession = await router.session(async () => {
      expect(await migrate(router)).toEqual(['1733500000000_tags'])
      const { rows } = await router.query(READ_TAGS)
      expect(rows).toEqual([
        { name: 'first', created_by: cluster.primary.port, served_by: expect.any(Number) },
      ])
      const servedBy: Array<number | string> = [rows[0]!.served_by]
      for (let i = 0; i < 9; i++) servedBy.push(await readTags())
      return servedBy
    })
    // Right away, outside the session: what an application instance that was not told of the migration reads.
    for (let i = 0; i < 6; i++) outside.push(await readTags())
    expectReplicaReads(cluster, inSession as number[])
    expect(await migrate(router)).toEqual([]) // nothing left to run
  })

  it('outside the session, a replica that has not replayed the migration misses it', (context) => {
    requireControl(context, LATE)
    expect(outside).toContain('42P01') // undefined_table
  })
})
