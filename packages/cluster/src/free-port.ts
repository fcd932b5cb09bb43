import net from 'node:net'

/** Loopback address every embedded server listens on. */
export const loopback = '127.0.0.1'

/**
 * Asks the OS for a free TCP port on the loopback address (bind port 0, read it, release it). Another process may
 * take the port before the server binds it, so callers retry on `Address already in use`. Ports in `exclude` (handed
 * out for other nodes that are not listening yet) are never returned.
 */
export async function findFreePort(exclude: ReadonlySet<number> = new Set()): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer()
      server.unref()
      server.once('error', reject)
      server.listen({ host: loopback, port: 0, exclusive: true }, () => {
        const address = server.address()
        server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(address)))
      })
    })
    if (!exclude.has(port)) return port
  }
}
