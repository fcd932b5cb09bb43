/**
 * What a statement the classifier cannot judge costs: `SELECT add_job($1)`, a user function that inserts,
 * looks like a read, so it goes to a replica, which refuses it (SQLSTATE 25006), and it is re-run on the
 * primary. With learned routing (the default) the router remembers the text after the first refusal; without
 * it (`learnRouting: false`) every call pays the refused round trip. `BENCH_LEARNED_CALLS` (1000) sequential
 * calls each; the goal is at most 1 refusal per 1000 calls with learning on.
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/learned-routing.ts`
 */
import type { Cluster } from '@pgroute/cluster'
import { createRouter } from '@pgroute/core'
import { envNumber, withCluster } from './bench-environment.js'
import { type BenchRow, isMain } from './bench-module.js'

export const name = 'learned-routing'

const SQL = 'SELECT add_job($1) AS id'

async function measure(cluster: Cluster, learnRouting: boolean, calls: number): Promise<BenchRow> {
  const router = createRouter({
    primary: cluster.primary.url,
    replicas: cluster.replicas.map((replica) => replica.url),
    learnRouting,
  })
  try {
    await router.ready()
    const before = await cluster.primary.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs')
    const started = performance.now()
    for (let i = 0; i < calls; i++) await router.query(SQL, [`job ${i}`])
    const elapsed = performance.now() - started
    const after = await cluster.primary.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs')
    const refused = router
      .status()
      .filter((row) => row.role === 'replica')
      .reduce((sum, row) => sum + row.rerouted, 0)
    return {
      bench: name,
      learnRouting: String(learnRouting),
      calls,
      'jobs inserted': after.rows[0]!.n - before.rows[0]!.n,
      'refused round trips': refused,
      'µs/call': Math.round((elapsed * 1000) / calls),
      'goal (≤ 1 refusal)': learnRouting ? (refused <= 1 ? 'met' : 'MISSED') : '-',
    }
  } finally {
    await router.end()
  }
}

/** 1000 calls of a writing `SELECT fn()`, with learned routing and without. */
export async function run(): Promise<BenchRow[]> {
  const calls = Math.round(envNumber('BENCH_LEARNED_CALLS', 1000))
  return withCluster({ replicas: 1 }, async (cluster) => {
    await cluster.primary.query(`
      CREATE TABLE jobs (id bigserial PRIMARY KEY, task text);
      CREATE FUNCTION add_job(task text) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
        DECLARE new_id bigint;
        BEGIN INSERT INTO jobs (task) VALUES (task) RETURNING id INTO new_id; RETURN new_id; END $$;`)
    await cluster.waitForReplication()
    return [await measure(cluster, true, calls), await measure(cluster, false, calls)]
  })
}

if (isMain(import.meta.url)) console.table(await run())
