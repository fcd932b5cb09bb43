import type pg from 'pg'
import { isConnectionError } from '../pg-errors.js'

interface Socketish {
  readonly bytesWritten?: unknown
}

/** How many bytes `client`'s socket has taken so far (pg 8.x keeps it as `connection.stream`), if that can be told. */
export function bytesWrittenOf(client: pg.PoolClient): number | undefined {
  const stream = (client as unknown as { connection?: { stream?: Socketish } }).connection?.stream
  const written = stream?.bytesWritten
  return typeof written === 'number' ? written : undefined
}

/**
 * Whether a statement handed to pg on `client`, when its socket had taken `before` bytes, failed with `error` before
 * a byte of it was written: the connection failed (a socket error, or the driver's own error of a connection that
 * ended) and the socket took nothing since. pg writes nothing to a socket whose other end closed it first (a pooler
 * such as PgBouncer closing a client connection whose server is gone, a server ending an idle connection), and
 * `bytesWritten` counts what is still buffered too: no server received any of the statement, so it did not run.
 */
export function neverWritten(client: pg.PoolClient, before: number | undefined, error: unknown): boolean {
  if (before === undefined || !isConnectionError(error, client)) return false
  return bytesWrittenOf(client) === before
}
