/**
 * Which server answers on a connection, so that one configured node whose connections land on different servers
 * (HAProxy or a cloud reader endpoint in front of several replicas, a Kubernetes `-ro` service, a DNS name with
 * several records) can be told apart from one server. The monitor records a sighting for every connection of its
 * own (`node-link.ts`, reopened now and then to sample again) and of the node's pool (`connection-watch.ts`, at
 * login), for as long as the connection lives.
 */

/** What identifies the server behind one connection. */
export interface ServerIdentity {
  /** `inet_server_addr()`: the server's own address (not the proxy's); `null` over a Unix socket. */
  readonly address: string | null
  /** `inet_server_port()`. */
  readonly port: number | null
  /** `pg_postmaster_start_time()`: tells apart servers behind the same address and port (restarts count too). */
  readonly startedAt: string
}

/** One statement, one round trip; needs no privilege. */
export const SERVER_IDENTITY_SQL = `SELECT host(inet_server_addr()) AS address, inet_server_port() AS port,
  pg_postmaster_start_time()::text AS started_at`

/** A row of {@link SERVER_IDENTITY_SQL}. */
export interface ServerIdentityRow {
  readonly address: string | null
  readonly port: number | null
  readonly started_at: string
}

/** The identity a row of {@link SERVER_IDENTITY_SQL} describes. */
export function toServerIdentity(row: ServerIdentityRow): ServerIdentity {
  return {
    address: row.address,
    port: row.port === null ? null : Number(row.port),
    startedAt: row.started_at,
  }
}

/** `address:port`, as shown in diagnostics. */
export function serverLabel(identity: ServerIdentity): string {
  return `${identity.address ?? 'local socket'}:${identity.port ?? '-'}`
}

/**
 * The servers seen behind one node's connections within the last `windowMs`. A server that restarted shows up
 * once more (its start time changed) and ages out after `windowMs`; two servers answering within the window mean
 * the node is several servers, whose lag and replay positions describe no single one.
 */
export class ServerSightings {
  readonly #windowMs: number
  readonly #seen = new Map<string, { identity: ServerIdentity; at: number; held: number }>()

  constructor(windowMs = 60_000) {
    this.#windowMs = windowMs
  }

  /** Records the server that answered on one connection. */
  record(identity: ServerIdentity, now = Date.now()): void {
    const key = `${serverLabel(identity)}@${identity.startedAt}`
    const known = this.#seen.get(key)
    if (known) known.at = Math.max(known.at, now)
    else this.#seen.set(key, { identity, at: now, held: 0 })
  }

  /**
   * Records the server that answers on a connection that stays open: it counts as seen until the returned
   * function is called (the connection closed), and for the window after.
   */
  hold(identity: ServerIdentity, now = Date.now()): () => void {
    this.record(identity, now)
    const sighting = this.#seen.get(`${serverLabel(identity)}@${identity.startedAt}`)!
    sighting.held++
    let released = false
    return () => {
      if (released) return
      released = true
      sighting.held--
      sighting.at = Math.max(sighting.at, Date.now())
    }
  }

  /** The servers seen within the window, one entry per address and port (the latest start time). */
  servers(now = Date.now()): ServerIdentity[] {
    const latest = new Map<string, { identity: ServerIdentity; at: number; held: number }>()
    for (const [key, sighting] of this.#seen) {
      if (sighting.held > 0) sighting.at = now
      else if (now - sighting.at > this.#windowMs) {
        this.#seen.delete(key)
        continue
      }
      const label = serverLabel(sighting.identity)
      const known = latest.get(label)
      if (!known || known.at <= sighting.at) latest.set(label, sighting)
    }
    return [...latest.values()].map((sighting) => sighting.identity)
  }

  /** A line for `health().problems`, or `undefined` while one server answers. */
  problem(now = Date.now()): string | undefined {
    const servers = this.servers(now)
    if (servers.length < 2) return undefined
    return `answers from ${servers.length} servers (${servers.map(serverLabel).join(', ')}): its lag and replay position describe one of them only`
  }
}
