import type { RouterNode } from '../replicas/router-node.js'
import { ConnectionWatch } from './connection-watch.js'
import { NodeLink } from './node-link.js'
import { NodeProbe, type ProbeReading } from './node-probe.js'
import { ServerSightings } from './server-identity.js'

/**
 * How long the router's own connection to a node is kept before it is opened anew, so that a node whose address
 * leads to several servers (HAProxy, a reader endpoint) is sampled again even when its pool opens no connection.
 */
export const RESAMPLE_AFTER_MS = 5 * 60_000

/**
 * What the health monitor keeps of one node: the router's own connection to it (shared by its probes and the
 * router's own statements there), its probe, and the servers seen answering on that connection and on its pool's.
 */
export class WatchedNode {
  readonly link: NodeLink
  readonly #probe: NodeProbe
  readonly #sightings = new ServerSightings()
  readonly #pool: ConnectionWatch

  constructor(node: RouterNode, timeoutMs: number) {
    const sightings = this.#sightings
    this.link = new NodeLink(node.spec, {
      connectTimeoutMs: timeoutMs,
      onConnect: (info) => (info.server === undefined ? undefined : sightings.hold(info.server)),
    })
    this.#probe = new NodeProbe(this.link, timeoutMs)
    this.#pool = new ConnectionWatch(node.pool, sightings)
  }

  /** Reads one probe; the connection is opened anew first when it is older than {@link RESAMPLE_AFTER_MS}. */
  read(): Promise<ProbeReading> {
    // Opened anew now and then: a node that is several servers is sampled again.
    const { link } = this
    if (link.connected && Date.now() - link.openedAt > RESAMPLE_AFTER_MS) link.release()
    return this.#probe.read()
  }

  /** What the node's sightings say for `status()` and `health()`. */
  servers(): { count: number; problem: string | undefined } {
    return { count: this.#sightings.servers().length, problem: this.#sightings.problem() }
  }

  /** Stops watching the pool's new connections. */
  stop(): void {
    this.#pool.stop()
  }

  /** Closes the router's own connection to the node. */
  close(): Promise<void> {
    return this.link.close()
  }
}
