import type { Cluster } from '@pgroute/cluster'
import { requirePassword, startTestCluster } from '@pgroute/cluster/testing'
import pg from 'pg'
import Cursor from 'pg-cursor'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isPgRouteError, type Router } from '../src/index.js'
import { RoutedClient } from '../src/pool/routed-client.js'
import { portOf, routerFor, WHO } from './helpers/cluster-helpers.js'

let cluster: Cluster
let router: Router
let primaryPort: number
let replicaPorts: number[]

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 2 })
  primaryPort = cluster.primary.port
  replicaPorts = cluster.replicas.map((replica) => replica.port)
  await cluster.primary.query(`
    CREATE TABLE items (id int PRIMARY KEY, label text);
    INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g;
    CREATE SEQUENCE item_ids;
    CREATE TABLE calls (id bigserial PRIMARY KEY, at timestamptz DEFAULT now());
    CREATE FUNCTION record_call() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
      DECLARE new_id bigint;
      BEGIN INSERT INTO calls DEFAULT VALUES RETURNING id INTO new_id; RETURN new_id; END $$;`)
  await cluster.waitForReplication()
  router = routerFor(cluster)
  await router.ready()
})

afterAll(async () => {
  await router?.end()
  await cluster?.stop()
})

async function portsOf(queries: Array<Promise<pg.QueryResult>>): Promise<number[]> {
  return (await Promise.all(queries)).map(portOf)
}

describe('router.query routing', () => {
  it('sends reads to replicas', async () => {
    const ports = await portsOf(Array.from({ length: 20 }, () => router.query(WHO)))
    for (const port of ports) expect(replicaPorts).toContain(port)
  })

  it('sends writes, locking reads, nextval and writable CTEs to the primary', async () => {
    const statements = [
      `INSERT INTO items VALUES (1000, 'new') ON CONFLICT (id) DO UPDATE SET label = 'new' RETURNING inet_server_port() AS port`,
      'SELECT inet_server_port() AS port FROM items WHERE id = 1 FOR UPDATE',
      'SELECT inet_server_port() AS port, id FROM items WHERE id = 2 FOR SHARE',
      `SELECT inet_server_port() AS port, nextval('item_ids')`,
      `WITH moved AS (UPDATE items SET label = label WHERE id = 3 RETURNING id)
         SELECT inet_server_port() AS port, count(*) FROM moved`,
    ]
    for (const statement of statements) {
      expect(portOf(await router.query(statement)), statement).toBe(primaryPort)
    }
  })

  it('balances reads across replicas (round-robin: equal shares)', async () => {
    const ports = await portsOf(Array.from({ length: 200 }, () => router.query(WHO)))
    const counts = replicaPorts.map((port) => ports.filter((p) => p === port).length)
    expect(counts[0]! + counts[1]!).toBe(200)
    expect(Math.abs(counts[0]! - counts[1]!)).toBeLessThanOrEqual(2)
  })

  it('honours replica weights', async () => {
    const weighted = routerFor(cluster, {
      replicas: [
        { name: 'light', connectionString: cluster.replicas[0]!.url, weight: 1 },
        { name: 'heavy', connectionString: cluster.replicas[1]!.url, weight: 3 },
      ],
    })
    try {
      await weighted.ready()
      const ports: number[] = []
      for (let i = 0; i < 200; i++) ports.push(portOf(await weighted.query(WHO)))
      expect(ports.filter((p) => p === replicaPorts[0]).length).toBe(50)
      expect(ports.filter((p) => p === replicaPorts[1]).length).toBe(150)
    } finally {
      await weighted.end()
    }
  })

  it('accepts a QueryConfig and values', async () => {
    const result = await router.query<{ label: string; port: number }>({
      text: 'SELECT label, inet_server_port() AS port FROM items WHERE id = $1',
      values: [7],
    })
    expect(result.rows[0]?.label).toBe('item 7')
    expect(replicaPorts).toContain(portOf(result))
    const withValues = await router.query('SELECT label FROM items WHERE id = $1', [8])
    expect(withValues.rows).toEqual([{ label: 'item 8' }])
  })
})

describe('router.pool', () => {
  it('is a pg.Pool', () => {
    expect(router.pool).toBeInstanceOf(pg.Pool)
  })

  it('routes pool.query per statement (promise and callback forms)', async () => {
    expect(replicaPorts).toContain(portOf(await router.pool.query(WHO)))
    expect(portOf(await router.pool.query(`SELECT inet_server_port() AS port, nextval('item_ids')`))).toBe(
      primaryPort,
    )
    const viaCallback = await new Promise<pg.QueryResult>((resolve, reject) => {
      router.pool.query(WHO, (error: Error | null, result?: pg.QueryResult) =>
        error ? reject(error) : resolve(result!),
      )
    })
    expect(replicaPorts).toContain(portOf(viaCallback))
    const withValues = await new Promise<pg.QueryResult>((resolve, reject) => {
      router.pool.query(
        'SELECT label FROM items WHERE id = $1',
        [9],
        (error: Error | null, result?: pg.QueryResult) => (error ? reject(error) : resolve(result!)),
      )
    })
    expect(withValues.rows).toEqual([{ label: 'item 9' }])
    const failure = await new Promise<Error | null>((resolve) => {
      router.pool.query('SELECT * FROM no_such_table', (error: Error | null) => resolve(error))
    })
    expect(failure).toMatchObject({ code: '42P01' })
  })

  it('connect() supports the callback form with a done function', async () => {
    const port = await new Promise<number>((resolve, reject) => {
      router.pool.connect((error: Error | undefined, client: pg.PoolClient | undefined, done: () => void) => {
        if (error || !client) return reject(error)
        client.query(WHO).then(
          (result) => {
            done()
            resolve(portOf(result))
          },
          (queryError: Error) => {
            done()
            reject(queryError)
          },
        )
      })
    })
    expect(replicaPorts).toContain(port)
  })
})

describe('router.pool.connect(): lazily pinned clients', () => {
  it('BEGIN READ ONLY pins a replica for the whole transaction', async () => {
    const client = (await router.pool.connect()) as unknown as RoutedClient
    expect(client).toBeInstanceOf(RoutedClient)
    expect(client.node).toBeUndefined()
    try {
      await client.query('BEGIN READ ONLY')
      expect(client.role).toBe('replica')
      const ports = await portsOf(Array.from({ length: 5 }, () => client.query(WHO)))
      expect(new Set(ports).size).toBe(1)
      expect(replicaPorts).toContain(ports[0])
      await client.query('COMMIT')
      // Still pinned after COMMIT, until release.
      expect(portOf(await client.query(WHO))).toBe(ports[0])
    } finally {
      client.release()
    }
  })

  it('BEGIN pins the primary, and the client stays there until release', async () => {
    const client = (await router.pool.connect()) as unknown as RoutedClient
    try {
      await client.query('BEGIN')
      expect(client.role).toBe('primary')
      expect(portOf(await client.query(WHO))).toBe(primaryPort)
      await client.query(`INSERT INTO items VALUES (2000, 'in tx')`)
      expect(portOf(await client.query(WHO))).toBe(primaryPort)
      await client.query('ROLLBACK')
      expect(portOf(await client.query(WHO))).toBe(primaryPort)
      expect(client.role).toBe('primary')
    } finally {
      client.release()
    }
    const { rows } = await cluster.primary.query('SELECT count(*)::int AS n FROM items WHERE id = 2000')
    expect(rows[0]!.n).toBe(0)
  })

  it('a replica-pinned client moves to the primary on a write outside a transaction, and stays', async () => {
    const client = (await router.pool.connect()) as unknown as RoutedClient
    try {
      const first = portOf(await client.query(WHO))
      expect(replicaPorts).toContain(first)
      expect(client.role).toBe('replica')
      const written = await client.query(
        `INSERT INTO items VALUES (3000, 'moved') ON CONFLICT (id) DO UPDATE SET label = 'moved'
         RETURNING inet_server_port() AS port`,
      )
      expect(portOf(written)).toBe(primaryPort)
      expect(client.role).toBe('primary')
      expect(portOf(await client.query(WHO))).toBe(primaryPort)
    } finally {
      client.release()
    }
  })

  it('a replica-pinned client in a read-only transaction gets the write refused (it does not move)', async () => {
    const client = (await router.pool.connect()) as unknown as RoutedClient
    try {
      await client.query('BEGIN READ ONLY')
      const pinned = client.node
      await expect(client.query(`INSERT INTO items VALUES (4000, 'no')`)).rejects.toMatchObject({
        code: '25006',
      })
      expect(client.node).toBe(pinned)
      await client.query('ROLLBACK')
    } finally {
      client.release()
    }
  })

  it('runs a cursor (pg-cursor) on the pinned node, before and after pinning', async () => {
    const client = await router.pool.connect()
    try {
      // First statement: the cursor itself picks the node (a read → a replica).
      const cursor = client.query(
        new Cursor('SELECT g AS n, inet_server_port() AS port FROM generate_series(1, 25) g'),
      )
      const first = await cursor.read(10)
      const rest = await cursor.read(100)
      await cursor.close()
      expect([...first, ...rest].map((row) => row.n)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1))
      const cursorPort = Number(first[0].port)
      expect(replicaPorts).toContain(cursorPort)

      // Already pinned: the cursor runs on the same node, inside the transaction.
      await client.query('BEGIN READ ONLY')
      const inside = client.query(new Cursor('SELECT inet_server_port() AS port FROM generate_series(1, 3)'))
      const rows = await inside.read(10)
      await inside.close()
      await client.query('COMMIT')
      expect(rows.map((row: { port: string }) => Number(row.port))).toEqual([
        cursorPort,
        cursorPort,
        cursorPort,
      ])
    } finally {
      client.release()
    }
  })

  it('pin() pins before the first statement; release returns the connection', async () => {
    const client = (await router.connect()) as RoutedClient
    try {
      await client.pin('primary')
      expect(client.role).toBe('primary')
      expect(portOf(await client.query(WHO))).toBe(primaryPort)
      await expect(client.pin('replica')).rejects.toMatchObject({ code: 'PGROUTE_PINNED' })
    } finally {
      client.release()
    }
    expect(() => client.release()).toThrow(/already been released/)
    await expect(client.query(WHO)).rejects.toThrow(/released/)
  })
})

describe('writes a replica refuses', () => {
  it('a VOLATILE function that writes, called via SELECT, is re-run on the primary and counted', async () => {
    const before = await cluster.primary.query<{ n: number }>('SELECT count(*)::int AS n FROM calls')
    const sql = 'SELECT record_call() AS id, inet_server_port() AS port'
    const reroutes: string[] = []
    const onReroute = (event: { from: string; reason: string }) =>
      reroutes.push(`${event.from}:${event.reason}`)
    router.on('reroute', onReroute)
    try {
      expect(router.classify(sql).target).toBe('replica') // the classifier cannot know what it does
      const result = await router.query(sql)
      expect(portOf(result)).toBe(primaryPort)
      const after = await cluster.primary.query<{ n: number }>('SELECT count(*)::int AS n FROM calls')
      expect(after.rows[0]!.n).toBe(before.rows[0]!.n + 1) // ran exactly once where it could write
    } finally {
      router.off('reroute', onReroute)
    }
    expect(reroutes).toHaveLength(1)
    expect(reroutes[0]).toMatch(/:read-only-rejection$/)
    const rerouted = router.status().filter((row) => row.role === 'replica')
    expect(rerouted.reduce((sum, row) => sum + row.rerouted, 0)).toBe(1)
    expect(router.reroutedStatements()).toEqual([{ statement: sql, count: 1, learned: 'read-only' }])
  })

  it('with writeFunctions, the call goes straight to the primary', async () => {
    const direct = routerFor(cluster, { writeFunctions: ['record_call'] })
    try {
      await direct.ready()
      const result = await direct.query('SELECT record_call() AS id, inet_server_port() AS port')
      expect(portOf(result)).toBe(primaryPort)
      expect(direct.reroutedStatements()).toEqual([])
      expect(direct.status().every((row) => row.rerouted === 0)).toBe(true)
    } finally {
      await direct.end()
    }
  })

  it('a refused write through a pinned client is re-run on the primary and the client moves', async () => {
    const client = (await router.pool.connect()) as unknown as RoutedClient
    try {
      expect(replicaPorts).toContain(portOf(await client.query(WHO)))
      // A text of its own: the one above was learned, and would move the client without a refusal.
      const sql = 'SELECT record_call() AS id, inet_server_port() AS port, true AS pinned'
      const result = await client.query(sql)
      expect(portOf(result)).toBe(primaryPort)
      expect(client.role).toBe('primary')
      expect(router.reroutedStatements().find((entry) => entry.statement === sql)?.count).toBe(1)
    } finally {
      client.release()
    }
  })
})

describe('router.transaction', () => {
  it('runs read-only transactions on a replica and others on the primary', async () => {
    const readOnly = await router.transaction((client) => client.query(WHO), { readOnly: true })
    expect(replicaPorts).toContain(portOf(readOnly))
    const readWrite = await router.transaction((client) => client.query(WHO))
    expect(portOf(readWrite)).toBe(primaryPort)
    const settings = await router.transaction(
      (client) =>
        client.query<{ iso: string; ro: string }>(
          'SELECT current_setting($1) AS iso, current_setting($2) AS ro',
          ['transaction_isolation', 'transaction_read_only'],
        ),
      { readOnly: true, isolationLevel: 'repeatable read' },
    )
    expect(settings.rows[0]).toEqual({ iso: 'repeatable read', ro: 'on' })
  })

  it('commits on success and rolls back on throw, rethrowing the very same error', async () => {
    await router.transaction((client) => client.query(`INSERT INTO items VALUES (5000, 'kept')`))
    const boom = new Error('boom')
    await expect(
      router.transaction(async (client) => {
        await client.query(`INSERT INTO items VALUES (5001, 'rolled back')`)
        throw boom
      }),
    ).rejects.toBe(boom)
    const { rows } = await cluster.primary.query('SELECT id FROM items WHERE id IN (5000, 5001) ORDER BY id')
    expect(rows).toEqual([{ id: 5000 }])
  })

  it('rejects bad options with a ConfigError', async () => {
    await expect(
      router.transaction(async () => 1, { isolationLevel: 'chaos' as never }),
    ).rejects.toMatchObject({
      code: 'PGROUTE_INVALID_OPTION',
      option: 'isolationLevel',
    })
  })
})

describe('database errors reach the caller unchanged', () => {
  async function failure(run: () => Promise<unknown>): Promise<unknown> {
    try {
      await run()
    } catch (error) {
      return error
    }
    throw new Error('expected a failure')
  }

  it('unique violations (23505) and missing tables (42P01), from every entry point', async () => {
    const duplicate = `INSERT INTO items VALUES (1, 'duplicate')`
    const missing = 'SELECT * FROM no_such_table'
    const entryPoints: Record<string, (sql: string) => Promise<unknown>> = {
      'router.query': (sql) => router.query(sql),
      'router.pool.query': (sql) => router.pool.query(sql),
      'router.transaction': (sql) => router.transaction((client) => client.query(sql)),
      'pinned client': async (sql) => {
        const client = await router.pool.connect()
        try {
          return await client.query(sql)
        } finally {
          client.release()
        }
      },
    }
    for (const [name, run] of Object.entries(entryPoints)) {
      const unique = await failure(() => run(duplicate))
      expect(unique, name).toBeInstanceOf(pg.DatabaseError)
      expect(unique, name).toMatchObject({ code: '23505', constraint: 'items_pkey' })
      const undefinedTable = await failure(() => run(missing))
      expect(undefinedTable, name).toBeInstanceOf(pg.DatabaseError)
      expect(undefinedTable, name).toMatchObject({ code: '42P01' })
      expect(isPgRouteError(undefinedTable)).toBe(false)
    }
  })

  it("their stack traces lead back to the caller, as pg's own promise API does", async () => {
    const viaQuery = await failure(() => router.query('SELECT * FROM no_such_table'))
    expect((viaQuery as Error).stack).toContain('routing.int.test')
    const client = await router.pool.connect()
    try {
      await client.query('BEGIN')
      const viaClient = await failure(() => client.query('SELECT * FROM no_such_table'))
      expect((viaClient as Error).stack).toContain('routing.int.test')
    } finally {
      await client.query('ROLLBACK')
      client.release()
    }
  })

  it('a failed statement does not break the pool: the next query works', async () => {
    for (let i = 0; i < 30; i++) await router.query('SELECT * FROM no_such_table').catch(() => {})
    expect(replicaPorts).toContain(portOf(await router.query(WHO)))
    expect(router.pool.totalCount).toBe(router.pool.idleCount)
  })
})

describe('status()', () => {
  it('lists the primary then each replica, up, with WAL positions and traffic', async () => {
    const status = router.status()
    expect(status.map((row) => [row.name, row.role, row.state, row.healthy])).toEqual([
      [`${cluster.primary.host}:${primaryPort}/${cluster.database}`, 'primary', 'up', true],
      ['replica-1', 'replica', 'up', true],
      ['replica-2', 'replica', 'up', true],
    ])
    for (const row of status) {
      expect(row.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/)
      expect(row.served).toBeGreaterThan(0)
      expect(row.inFlight).toBe(0)
      expect(row.lastProbeAt).toMatch(/^\d{4}-\d\d-\d\dT/)
      expect(row.lagBytes).toBeGreaterThanOrEqual(0)
    }
    expect(status[1]!.receiveLsn).toMatch(/\//)
  })

  it('shows no password', (context) => {
    const password = requirePassword(context, cluster)
    expect(JSON.stringify(router.status())).not.toContain(password)
  })
})

describe('diagnostics are scrubbed of passwords', () => {
  it('a server error that quotes the password shows **** in status() and node-state events', async (context) => {
    const password = requirePassword(context, cluster)
    // Connecting to a database named like the password: the server's error message quotes it.
    const url = new URL(cluster.replicas[0]!.url)
    url.pathname = `/${password}`
    const local = routerFor(cluster, { replicas: [{ name: 'odd', connectionString: url.toString() }] })
    const reasons: string[] = []
    local.on('node-state', (event) => reasons.push(event.reason))
    try {
      await local.ready()
      const row = local.status().find((r) => r.name === 'odd')!
      expect(row.state).toBe('down')
      expect(row.lastError).toBe('database "****" does not exist')
      expect(reasons).toContain('database "****" does not exist')
      expect(JSON.stringify(local.status())).not.toContain(password)
      expect(reasons.join('\n')).not.toContain(password)
    } finally {
      await local.end()
    }
  })
})

describe('router.end()', () => {
  it('ends the pools it created, not the ones it was given; afterwards everything fails with PGROUTE_CLOSED', async () => {
    const given = new pg.Pool({ connectionString: cluster.replicas[0]!.url, max: 2 })
    const local = routerFor(cluster, {
      replicas: [
        { name: 'given', pool: given },
        { name: 'created', connectionString: cluster.replicas[1]!.url },
      ],
    })
    await local.ready()
    for (let i = 0; i < 4; i++) await local.query(WHO)
    const primaryPool = local.primary
    await local.end()
    await local.end() // idempotent
    expect((primaryPool as pg.Pool & { ended: boolean }).ended).toBe(true)
    expect(portOf(await given.query(WHO))).toBe(replicaPorts[0])

    const closed = { code: 'PGROUTE_CLOSED' }
    await expect(local.query(WHO)).rejects.toMatchObject(closed)
    await expect(local.pool.query(WHO)).rejects.toMatchObject(closed)
    await expect(local.pool.connect()).rejects.toMatchObject(closed)
    await expect(local.connect()).rejects.toMatchObject(closed)
    await expect(local.transaction(async () => 1)).rejects.toMatchObject(closed)
    await given.end()
  })

  it('router.pool.end() ends the router', async () => {
    const local = routerFor(cluster)
    await local.ready()
    await local.pool.query(WHO)
    await local.pool.end()
    await expect(local.query(WHO)).rejects.toMatchObject({ code: 'PGROUTE_CLOSED' })
  })
})
