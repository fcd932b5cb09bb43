import net from 'node:net'
import { ClusterError, invalidOption } from './cluster-error.js'
import type { NodeConnectionConfig } from './cluster-node.js'
import { type Duration, parseDuration } from './duration.js'
import { loopback } from './free-port.js'

/** Which direction of a connection carries the added delay. */
export type DelayDirection = 'reply' | 'both'

/** Options of {@link startDelayProxy}. */
export interface DelayProxyOptions {
  /**
   * Round-trip time added to every exchange: `'3ms'`, `'0.5ms'` or milliseconds (fractions allowed). Default 0.
   * Timers fire on whole milliseconds, so a delivery is late by the delay plus up to about a millisecond, never
   * early.
   */
  readonly delay?: Duration
  /** Up to this much more per chunk of data, uniformly at random; chunks never overtake each other. Default 0. */
  readonly jitter?: Duration
  /**
   * `'reply'` (default): the whole delay on the server's replies, the most precise with millisecond timers. `'both'`:
   * half on each direction. Either way a request/reply exchange takes `delay` longer.
   */
  readonly direction?: DelayDirection
  /** Local port to listen on (127.0.0.1). Default: one the OS picks. */
  readonly port?: number
}

/** Where a {@link DelayProxy} forwards to: a cluster node, or any TCP address. */
export interface DelayProxyTarget {
  readonly host: string
  readonly port: number
  /** A node's URL: the proxy's `url` is this one with the proxy's address. */
  readonly url?: string
  /** A node's connection settings: the proxy's `connectionConfig` is these with the proxy's address. */
  readonly connectionConfig?: NodeConnectionConfig
}

/**
 * A TCP proxy on 127.0.0.1 that forwards to one server and delays its traffic, to give a node on loopback the
 * distance of another zone. Its delay can change at run time (new data takes the new delay; data in flight keeps
 * its own). Whoever starts it closes it.
 */
export interface DelayProxy {
  /** `127.0.0.1`. */
  readonly host: string
  /** The port clients connect to instead of the target's. */
  readonly port: number
  /** The target node's URL with this proxy's address (when the target is a cluster node). */
  readonly url: string | undefined
  /** The target node's connection settings with this proxy's address (when the target is a cluster node). */
  readonly connectionConfig: NodeConnectionConfig | undefined
  /** Added round-trip time now, in milliseconds. */
  readonly delayMs: number
  /** Jitter now, in milliseconds. */
  readonly jitterMs: number
  /** Client connections open through the proxy. */
  readonly connections: number
  /** Changes the added round-trip time (and the jitter, when given) for data arriving from now on. */
  setDelay(delay: Duration, jitter?: Duration): void
  /** Stops listening and cuts every connection through the proxy. Idempotent. */
  close(): Promise<void>
}

/** Bytes queued in one direction before the sending side is paused. */
const highWater = 1024 * 1024

/**
 * Starts a delay proxy in front of `target` (a cluster node, or `{ host, port }`).
 *
 * @example
 * ```ts
 * const far = await startDelayProxy(cluster.node('replica-2'), { delay: '3ms' })
 * const router = createRouter({ primary: cluster.primary.url, replicas: [cluster.replicas[0].url, far.url] })
 * far.setDelay('10ms') // the zone got farther
 * await router.end()
 * await far.close()
 * ```
 */
export async function startDelayProxy(
  target: DelayProxyTarget,
  options: DelayProxyOptions = {},
): Promise<DelayProxy> {
  if (typeof target !== 'object' || target === null || typeof target.port !== 'number') {
    throw invalidOption('target', 'expected a cluster node or { host, port }')
  }
  const direction = options.direction ?? 'reply'
  if (direction !== 'reply' && direction !== 'both') {
    throw invalidOption('direction', `expected 'reply' or 'both', got ${JSON.stringify(direction)}`)
  }
  const timing = {
    delayMs: parseDuration(options.delay ?? 0, 'delay', { exact: true }),
    jitterMs: parseDuration(options.jitter ?? 0, 'jitter', { exact: true }),
  }
  const connections = new Set<Connection>()
  // Half-open: each direction ends on its own once its delayed data is through.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true })
    const share = direction === 'both' ? 0.5 : 0
    const connection = new Connection(client, upstream, {
      request: () => share * (timing.delayMs + Math.random() * timing.jitterMs),
      reply: () => (1 - share) * (timing.delayMs + Math.random() * timing.jitterMs),
    })
    connections.add(connection)
    connection.closed.then(() => connections.delete(connection))
  })
  server.unref() // A forgotten proxy does not keep the process alive; open connections do.
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        new ClusterError('PGROUTE_CLUSTER_START_FAILED', `delay proxy: ${error.message}`, { cause: error }),
      ),
    )
    server.listen({ host: loopback, port: options.port ?? 0 }, resolve)
  })
  const port = (server.address() as net.AddressInfo).port
  const url = typeof target.url === 'string' ? withPort(target.url, port) : undefined
  const given = target.connectionConfig
  const config: NodeConnectionConfig | undefined = given && {
    ...given,
    host: loopback,
    port,
    // pg reads a connection string over host and port: it must name the proxy too.
    ...(given.connectionString === undefined
      ? {}
      : { connectionString: withPort(given.connectionString, port) }),
  }
  let closing: Promise<void> | undefined
  return {
    host: loopback,
    port,
    url,
    connectionConfig: config,
    get delayMs() {
      return timing.delayMs
    },
    get jitterMs() {
      return timing.jitterMs
    },
    get connections() {
      return connections.size
    },
    setDelay(delay, jitter) {
      timing.delayMs = parseDuration(delay, 'delay', { exact: true })
      if (jitter !== undefined) timing.jitterMs = parseDuration(jitter, 'jitter', { exact: true })
    },
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
        await Promise.all([...connections].map((connection) => connection.destroy()))
        await stopped
      })()
      return closing
    },
  }
}

function withPort(url: string, port: number): string {
  const parsed = new URL(url)
  parsed.hostname = loopback
  parsed.port = String(port)
  return parsed.toString()
}

/** One client connection and its connection to the target, with a delayed pipe each way. */
class Connection {
  readonly closed: Promise<void>
  readonly #sockets: readonly net.Socket[]
  readonly #pipes: readonly DelayedPipe[]

  constructor(
    client: net.Socket,
    upstream: net.Socket,
    delays: { readonly request: () => number; readonly reply: () => number },
  ) {
    this.#sockets = [client, upstream]
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    this.#pipes = [
      new DelayedPipe(client, upstream, delays.request),
      new DelayedPipe(upstream, client, delays.reply),
    ]
    this.closed = Promise.all(
      this.#sockets.map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()))),
    ).then(() => {})
    // A reset on either side ends both: the other side sees the connection drop, as it would across a network.
    // A clean close needs nothing: each pipe ends its destination once its delayed data is through.
    for (const socket of this.#sockets) socket.on('error', () => this.destroy())
  }

  destroy(): Promise<void> {
    for (const pipe of this.#pipes) pipe.cancel()
    for (const socket of this.#sockets) socket.destroy()
    return this.closed
  }
}

/**
 * Data from `from` written to `to` once its delay has passed, in order: each chunk is due at its arrival plus its
 * delay, and never before the chunk ahead of it. One timer at a time (unref'd), for the chunk at the head.
 */
class DelayedPipe {
  readonly #from: net.Socket
  readonly #to: net.Socket
  readonly #delay: () => number
  readonly #queue: Array<{ readonly due: number; readonly chunk: Buffer }> = []
  #queuedBytes = 0
  #lastDue = 0
  #timer: NodeJS.Timeout | undefined
  #ended = false

  constructor(from: net.Socket, to: net.Socket, delay: () => number) {
    this.#from = from
    this.#to = to
    this.#delay = delay
    from.on('data', (chunk: Buffer) => this.#push(chunk))
    from.once('end', () => {
      this.#ended = true
      this.#flush()
    })
    to.on('drain', () => this.#resumeIfRoom())
  }

  cancel(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#queue.length = 0
  }

  #push(chunk: Buffer): void {
    const now = performance.now()
    const due = Math.max(this.#lastDue, now + this.#delay())
    this.#lastDue = due
    if (due <= now && this.#queue.length === 0) {
      this.#write(chunk)
      return
    }
    this.#queue.push({ due, chunk })
    this.#queuedBytes += chunk.length
    if (this.#queuedBytes + this.#to.writableLength > highWater) this.#from.pause()
    if (this.#queue.length === 1) this.#schedule()
  }

  #schedule(): void {
    const head = this.#queue[0]
    if (!head || this.#timer) return
    // Timers may fire a little early relative to performance.now(): #flush re-arms until the head is due.
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined
        this.#flush()
      },
      Math.max(0, Math.ceil(head.due - performance.now())),
    )
    this.#timer.unref()
  }

  #flush(): void {
    const now = performance.now()
    while (this.#queue.length > 0 && this.#queue[0]!.due <= now) {
      const { chunk } = this.#queue.shift()!
      this.#queuedBytes -= chunk.length
      this.#write(chunk)
    }
    if (this.#queue.length > 0) this.#schedule()
    else if (this.#ended && !this.#to.destroyed) this.#to.end()
    this.#resumeIfRoom()
  }

  #write(chunk: Buffer): void {
    if (!this.#to.destroyed) this.#to.write(chunk)
  }

  #resumeIfRoom(): void {
    if (this.#from.isPaused() && this.#queuedBytes + this.#to.writableLength <= highWater / 4)
      this.#from.resume()
  }
}
