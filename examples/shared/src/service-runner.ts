import { once } from 'node:events'
import { createRouter, type Router } from '@pgroute/core'
import type { FastifyInstance } from 'fastify'
import { type DatabaseNodes, databaseNodes } from './database-nodes.js'
import type { BuildApp } from './service-builder.js'

/** Options of {@link runService}. */
export interface RunServiceOptions {
  /** The app to serve. */
  readonly buildApp: BuildApp
}

/**
 * Runs an example app on PORT (default 3000) and HOST (default 127.0.0.1), against PGROUTE_PRIMARY_URL and
 * PGROUTE_REPLICA_URLS, or against a local cluster started here when they are unset. Resolves once SIGINT or
 * SIGTERM has stopped the server, the router and the cluster; a failure is printed and sets `process.exitCode`.
 *
 * @example
 * ```ts
 * await runService({ buildApp })
 * ```
 */
export async function runService(options: RunServiceOptions): Promise<void> {
  const port = Number(process.env.PORT ?? 3000)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`Invalid PORT ${JSON.stringify(process.env.PORT)}: expected an integer from 0 to 65535`)
    process.exitCode = 1
    return
  }
  const host = process.env.HOST ?? '127.0.0.1'

  const shutdown = new AbortController()
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.log(`\n${signal}: stopping…`)
      shutdown.abort()
    })
  }

  let nodes: DatabaseNodes | undefined
  let router: Router | undefined
  let app: FastifyInstance | undefined
  try {
    if (!process.env.PGROUTE_PRIMARY_URL)
      console.log('Starting a local PostgreSQL cluster (1 primary, 2 replicas)…')
    nodes = await databaseNodes({ signal: shutdown.signal })
    router = createRouter({ primary: nodes.primary, replicas: nodes.replicas })
    await router.ready({ signal: shutdown.signal })
    app = await options.buildApp({ router, logger: { level: process.env.LOG_LEVEL ?? 'info' } })
    await app.listen({ host, port })
    for (const node of nodes.cluster?.nodes ?? []) {
      const delay = node.applyDelayMs > 0 ? ` (replays WAL ${node.applyDelayMs / 1000} s late)` : ''
      console.log(`  ${node.name.padEnd(10)} 127.0.0.1:${node.port}${delay}`)
    }
    const { port: listening } = app.server.address() as { port: number }
    console.log(`Try: curl -i -H 'content-type: application/json' -d '{"title":"Hi","body":"there"}' \\`)
    console.log(`       http://${host}:${listening}/posts`)
    if (!shutdown.signal.aborted) await once(shutdown.signal, 'abort')
  } catch (error) {
    if (!shutdown.signal.aborted) {
      console.error(error)
      process.exitCode = 1
    }
  } finally {
    await app?.close()
    await router?.end()
    await nodes?.cluster?.stop()
  }
}
