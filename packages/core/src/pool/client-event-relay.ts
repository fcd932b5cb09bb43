import type { EventEmitter } from 'node:events'
import type pg from 'pg'

/** Events of the pinned connection a client passes on to its own listeners. */
const RELAYED_EVENTS = ['error', 'notification', 'notice', 'end', 'drain'] as const
type RelayedEvent = (typeof RELAYED_EVENTS)[number]

/** Whether `event` is one of a connection's events that a client passes on. */
export function isRelayedEvent(event: string | symbol): event is RelayedEvent {
  return (RELAYED_EVENTS as readonly (string | symbol)[]).includes(event)
}

/**
 * Passes the events of the connection a client holds (as `pg.Client` emits them) on to the client's own listeners,
 * from the connection it holds when someone starts listening and from every connection it holds later. Made at the
 * first listener of such an event: most clients (an ORM's transaction, a Kysely query) never have one.
 */
export class ClientEventRelay {
  readonly #owner: EventEmitter
  /** A forwarder per event someone listened to on the client, on every connection the client holds. */
  readonly #forwarders = new Map<RelayedEvent, (...args: unknown[]) => void>()

  constructor(owner: EventEmitter) {
    this.#owner = owner
  }

  /** Whether the client listens to the notices or notifications of its connection. */
  get hearsNotices(): boolean {
    return this.#forwarders.has('notice') || this.#forwarders.has('notification')
  }

  /** Someone listens to `event` on the client: passed on from `held` (the connection held now) and later ones. */
  listen(event: RelayedEvent, held: pg.PoolClient | undefined): void {
    if (this.#forwarders.has(event)) return
    const owner = this.#owner
    // Passed on only while the client has listeners: a connection error nobody hears stays the router's.
    const relay = (...args: unknown[]) => {
      if (owner.listenerCount(event) > 0) owner.emit(event, ...args)
    }
    this.#forwarders.set(event, relay)
    held?.on(event as 'error', relay)
  }

  /** The client holds `connection` now: its events are passed on. */
  attach(connection: pg.PoolClient): void {
    for (const [event, relay] of this.#forwarders) connection.on(event, relay)
  }

  /** The client no longer holds `connection`. */
  detach(connection: pg.PoolClient): void {
    for (const [event, relay] of this.#forwarders) connection.removeListener(event, relay)
  }
}
