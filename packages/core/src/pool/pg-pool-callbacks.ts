import type pg from 'pg'
import type { Submittable } from '../core/submittable.js'

/** A node-style callback, as pg's callback forms take it. */
export type NodeCallback<T> = (error: Error | null, result?: T) => void

/**
 * pg's callback form for a promise: hands its outcome to `callback` and returns `undefined`, or returns the
 * promise itself when there is no callback.
 */
export function settle<T>(
  promise: Promise<T>,
  callback: NodeCallback<T> | undefined,
): Promise<T> | undefined {
  if (callback === undefined) return promise
  promise.then(
    (value) => callback(null, value),
    (error: Error) => callback(error),
  )
  return undefined
}

/**
 * The body behind `pg.Pool#query`'s overloads (promise and callback forms): sorts out `values` and the callback
 * and runs the statement with `run`. A submittable (cursor, stream) runs as pg.Pool runs it: on a connection of its
 * own, given back once it has ended; the promise settles then.
 */
export function poolQuery(
  run: (
    query: string | pg.QueryConfig | Submittable,
    values: unknown[] | undefined,
  ) => Promise<pg.QueryResult>,
  query: unknown,
  valuesOrCallback?: unknown,
  callback?: unknown,
): Promise<pg.QueryResult> | undefined {
  const values =
    typeof valuesOrCallback === 'function' ? undefined : (valuesOrCallback as unknown[] | undefined)
  const done = (typeof valuesOrCallback === 'function' ? valuesOrCallback : callback) as
    | NodeCallback<pg.QueryResult>
    | undefined
  return settle(run(query as string | pg.QueryConfig | Submittable, values), done)
}

/** `pg.Pool#connect`'s callback form: `(error, client, done)`, where `done(error?)` releases the client. */
export type ConnectCallback = (
  error: Error | undefined,
  client: pg.PoolClient | undefined,
  // biome-ignore lint/suspicious/noExplicitAny: pg.Pool's own signature.
  done: (release?: any) => void,
) => void

/** The body behind `pg.Pool#connect`'s overloads: the promise, or `undefined` after handing it to `callback`. */
export function poolConnect(
  connecting: Promise<pg.PoolClient>,
  callback: ConnectCallback | undefined,
): Promise<pg.PoolClient> | undefined {
  if (typeof callback !== 'function') return connecting
  connecting.then(
    (client) => callback(undefined, client, (error?: Error | boolean) => client.release(error)),
    (error: Error) => callback(error, undefined, () => {}),
  )
  return undefined
}
