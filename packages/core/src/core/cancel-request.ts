import { connect, type Socket } from 'node:net'
import type pg from 'pg'

/** What pg keeps of a connection that a cancel request and a hard close need (not in its types). */
interface ClientInternals {
  readonly host?: string
  readonly port?: number
  readonly processID?: number | null
  readonly secretKey?: number | null
  readonly connection?: { readonly stream?: { destroy(): void } }
}

/** PostgreSQL's CancelRequest code (1234 << 16 | 5678). */
const CANCEL_REQUEST_CODE = 80877102

/** How long a cancel request's own connection may stay open: a hung server never answers it. */
const CANCEL_SOCKET_MS = 1000

/**
 * Cancel requests in flight, each on a short-lived connection of its own. A hung server accepts the TCP
 * connection and never closes it, so each is destroyed after {@link CANCEL_SOCKET_MS}, or by {@link closeAll}.
 */
export class CancelRequests {
  readonly #sockets = new Set<Socket>()

  /**
   * Asks the server to cancel the statement `client` is running (best effort: the answer is never awaited), then
   * closes `client`'s socket at once, so that pg fails the statement now whatever the server does.
   */
  cancelAndClose(client: pg.PoolClient): void {
    const internals = client as unknown as ClientInternals
    this.#send(internals)
    internals.connection?.stream?.destroy()
  }

  /** Closes `client`'s socket at once, with no cancel request (nothing runs on it). */
  close(client: pg.PoolClient): void {
    ;(client as unknown as ClientInternals).connection?.stream?.destroy()
  }

  /** Destroys every cancel connection still open. */
  closeAll(): void {
    for (const socket of this.#sockets) socket.destroy()
    this.#sockets.clear()
  }

  #send({ host, port, processID, secretKey }: ClientInternals): void {
    if (typeof processID !== 'number' || typeof secretKey !== 'number' || port === undefined) return
    const packet = Buffer.alloc(16)
    packet.writeInt32BE(16, 0)
    packet.writeInt32BE(CANCEL_REQUEST_CODE, 4)
    packet.writeInt32BE(processID, 8)
    packet.writeInt32BE(secretKey, 12)
    const socket =
      host?.startsWith('/') === true
        ? connect(`${host}/.s.PGSQL.${port}`)
        : connect(port, host ?? 'localhost')
    this.#sockets.add(socket)
    const timer = setTimeout(() => socket.destroy(), CANCEL_SOCKET_MS)
    timer.unref()
    socket.unref()
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      this.#sockets.delete(socket)
    })
    socket.on('connect', () => socket.end(packet))
  }
}
