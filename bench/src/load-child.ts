/**
 * A child process of `interleavedInChildren` (load-child-process.ts): builds one client with a module's `createLoad`,
 * then runs closed loops on request and reports its own figures. Not a bench itself.
 */
import { closedLoop } from './interleaved-rounds.js'
import type { LoadModule } from './load-child-process.js'

type Request = { type: 'run'; concurrency: number; ms: number } | { type: 'close' }

const { module, client, config } = JSON.parse(process.env.BENCH_LOAD ?? '{}') as {
  module: string
  client: string
  config: unknown
}
const load = await ((await import(module)) as LoadModule).createLoad(client, config)
process.on('message', async (request: Request) => {
  if (request.type === 'run') {
    process.send!({ type: 'figures', ...(await closedLoop(request.concurrency, request.ms, load.op)) })
    return
  }
  await load.close()
  process.disconnect()
})
// The parent disconnects after `close`, or is gone (killed): either way nothing more will be asked.
process.once('disconnect', () => process.exit())
process.send!({ type: 'ready' })
