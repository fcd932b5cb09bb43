/**
 * Issue #20, item 2: the outcome of a COMMIT whose answer was lost is resolved, not guessed. `router.transaction()`
 * reads the transaction's id with its BEGIN (one round trip); when the connection dies under the COMMIT, the
 * primary is asked afterwards (`txid_status()`), and the caller's error says `committed`, `aborted` or `unknown`.
 *
 * The answer is lost on purpose: the router reaches the primary through a TCP forwarder that cuts every
 * connection while the COMMIT runs (a deferred trigger makes it take 1 s), as a network failure would. The server
 * goes on and finishes the COMMIT (or fails it) on its own.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createRouter, isPgRouteError } from '../src/index.js'
import { FAST_HEALTH, waitFor } from './helpers/cluster-helpers.js'
import { TcpProxy, TestResources } from './helpers/failover-helpers.js'

const resources = new TestResources()
afterEach(() => resources.release())

/** A deferred trigger on `items` that sleeps 1 s at COMMIT, then fails it when the note is 'fail at commit'. */
const SLOW_COMMIT = `
  CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_sleep(1);
    IF NEW.note = 'fail at commit' THEN RAISE EXCEPTION 'refused at commit'; END IF;
    RETURN NULL;
  END $$;
  CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON items DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION slow_commit();`

async function commitCutOff(note: string): Promise<{ error: unknown; rows: number }> {
  const c = await resources.cluster({ replicas: 1 })
  await c.primary.query(SLOW_COMMIT)
  const proxy = await TcpProxy.start(c.primary.port)
  resources.onCleanup(() => proxy.close())
  const router = resources.router(
    createRouter({ primary: proxy.url(c.primary.url), healthCheck: FAST_HEALTH }),
  )
  await router.ready()
  const committing = `SELECT pid FROM pg_stat_activity WHERE query = 'COMMIT' AND pid <> pg_backend_pid()`
  const transaction = router
    .transaction(async (client) => {
      await client.query('INSERT INTO items (note) VALUES ($1)', [note])
    })
    .then(
      () => new Error('the COMMIT answered'),
      (error: unknown) => error,
    )
  await waitFor(async () => (await c.primary.query(committing)).rowCount === 1, 5000, 'the COMMIT to run')
  proxy.switchTo(c.primary.port)
  const error = await transaction
  const { rows } = await c.primary.query<{ n: number }>('SELECT count(*)::int AS n FROM items')
  return { error, rows: rows[0]!.n }
}

describe('a COMMIT whose answer was lost', () => {
  it('that committed: the caller is told outcome committed', async () => {
    const { error, rows } = await commitCutOff('committed while cut off')
    expect(isPgRouteError(error), String(error)).toBe(true)
    expect(error).toMatchObject({ code: 'PGROUTE_PRIMARY_UNAVAILABLE', outcome: 'committed' })
    expect(rows).toBe(1)
  })

  it('that the server failed: the caller is told outcome aborted', async () => {
    const { error, rows } = await commitCutOff('fail at commit')
    expect(isPgRouteError(error), String(error)).toBe(true)
    expect(error).toMatchObject({ code: 'PGROUTE_PRIMARY_UNAVAILABLE', outcome: 'aborted' })
    expect(rows).toBe(0)
  })
})
