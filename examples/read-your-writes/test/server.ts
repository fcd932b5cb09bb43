import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A server listening on a free loopback port. */
export interface Running {
  readonly base: string
  stop(): Promise<void>
}

/** Starts `server` (or a server for `listener`) on a free loopback port. */
export async function serve(target: Server | RequestListener): Promise<Running> {
  const server = typeof target === 'function' ? createServer(target) : target
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      }),
  }
}
