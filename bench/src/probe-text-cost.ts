/**
 * The server CPU of one health probe, by probe text, side by side: one connection to a primary and one to a
 * standby, each probed back to back with every text in turn, rounds interleaved (`BENCH_ROUNDS` rounds of
 * `BENCH_PROBES` probes per text), the backend's CPU read from `/proc/<pid>/schedstat` before and after each run.
 * Prints the median per probe over the rounds, in microseconds. The texts: the probe of round 3's start (commit
 * 6b8d444: one plain SELECT, its limit a session `SET` made once per connection, which PgBouncer's transaction
 * pooling leaks to other clients), the one every node was probed with before each kind got its own (every part, the
 * synchronous-replication column included), and the text of the node's kind (`probeSql`).
 *
 * Run alone: `node --conditions=pgroute-source --import tsx bench/src/probe-text-cost.ts`
 */
import pg from 'pg'
import { type ProbeKind, probeSql } from '../../packages/core/src/health/node-probe.js'
import { SYNC_SNAPSHOT_COLUMN } from '../../packages/core/src/health/sync-replication.js'
import { envNumber, withCluster } from './bench-environment.js'
import { median } from './interleaved-rounds.js'
import { cpuNanos, hasProc } from './proc-stat.js'

const ROUNDS = envNumber('BENCH_ROUNDS', 8)
const PROBES = envNumber('BENCH_PROBES', 200)
const may = { lsWalDir: true, controlCheckpoint: true }
/** Wrapped as the probe sends it: one simple query, its limit `SET LOCAL`. */
const wrap = (sql: string) => `BEGIN; SET LOCAL statement_timeout = 900; ${sql}; COMMIT`
/** The probe of round 3's start (6b8d444's `PROBE_SQL`), sent as it was: no transaction, no `SET LOCAL`. */
const ROUND_START = `SELECT pg_is_in_recovery() AS in_recovery,
  CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text AS lsn,
  pg_last_wal_receive_lsn()::text AS receive_lsn,
  EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp()))::float8 AS replay_age,
  CASE WHEN pg_is_in_recovery() THEN (SELECT lpad(to_hex(received_tli), 8, '0') FROM pg_stat_wal_receiver)
    ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END AS timeline`
/** The probe every node got before: the standby's text with the primary's sync column. */
const BEFORE = wrap(probeSql(may, 'standby').replace('NULL::text AS sync', SYNC_SNAPSHOT_COLUMN))

async function main(): Promise<void> {
  if (!hasProc) throw new Error('needs /proc to read a backend CPU')
  await withCluster({ replicas: 1 }, async (cluster) => {
    const nodes = [
      ['primary', cluster.primary.url],
      ['standby', cluster.replicas[0]!.url],
    ] as const satisfies ReadonlyArray<readonly [ProbeKind, string]>
    const samples = new Map<string, number[]>()
    for (const [node, url] of nodes) {
      const client = new pg.Client({ connectionString: url, application_name: 'probe-text-cost' })
      await client.connect()
      try {
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
        const pid = rows[0]!.pid
        const texts = {
          "round 3's start": ROUND_START,
          'one text for all (before)': BEFORE,
          [`${node}'s text`]: wrap(probeSql(may, node)),
        }
        for (const text of Object.values(texts)) for (let i = 0; i < 20; i++) await client.query(text)
        for (let round = 0; round < ROUNDS; round++) {
          for (const [name, text] of Object.entries(texts)) {
            const before = cpuNanos(pid)!
            for (let i = 0; i < PROBES; i++) await client.query(text)
            const spent = cpuNanos(pid)! - before
            const key = `${node} ${name}`
            samples.set(key, [...(samples.get(key) ?? []), spent / PROBES / 1000])
          }
        }
      } finally {
        await client.end()
      }
    }
    console.log(`server CPU per probe (µs, median of ${ROUNDS} rounds of ${PROBES} probes; min–max)`)
    for (const [key, values] of samples) {
      const sorted = [...values].sort((a, b) => a - b)
      console.log(
        `${key.padEnd(26)} ${median(values).toFixed(1).padStart(7)}  (${sorted[0]!.toFixed(1)}–${sorted.at(-1)!.toFixed(1)})`,
      )
    }
  })
}

await main()
