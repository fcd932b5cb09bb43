// Client CPU per query of router.pool.query / router.query over pools answering from memory.
// Usage: node --conditions=pgroute-source --import tsx ovh.ts <primaryUrl> <replicaUrl> <mode> <ms>
import { EventEmitter } from 'node:events'
import { createRouter } from '@pgroute/core'
import pg from 'pg'

function rethrow(error: Error): never { Error.captureStackTrace(error); throw error }
type Cb = (e: Error | null, r?: unknown) => void
class MemoryClient extends EventEmitter {
  readonly done = () => this.release()
  constructor(readonly idle: MemoryClient[]) { super() }
  query(statement: any, values?: any, callback?: Cb): unknown {
    Buffer.byteLength(typeof statement === 'string' ? statement : statement.text)
    const done = typeof values === 'function' ? values : callback
    const id = Array.isArray(values) ? values[0] : 0
    const result = { command: 'SELECT', rowCount: 1, oid: 0, fields: [], rows: [{ id, label: 'item' }] }
    if (done) { setImmediate(done, null, result); return undefined }
    return new Promise((res) => setImmediate(res, result)).catch(rethrow)
  }
  release() { this.idle.push(this) }
}
class MemoryPool extends pg.Pool {
  readonly #idle: MemoryClient[] = []
  override connect(callback?: any): any {
    const client = this.#idle.pop() ?? new MemoryClient(this.#idle)
    if (callback !== undefined) { process.nextTick(callback, undefined, client, client.done); return undefined }
    return new Promise((resolve) => process.nextTick(resolve, client)).catch(rethrow)
  }
  override query(text: any, values?: any): any {
    return new Promise((resolve, reject) => {
      this.connect((_: undefined, client: MemoryClient) => {
        client.query(text, values, (error, result) => { client.release(); if (error) reject(error); else resolve(result) })
      })
    }).catch(rethrow)
  }
  override end(): Promise<void> { return Promise.resolve() }
}
const [primary, replica, mode, msText] = process.argv.slice(2)
const ms = Number(msText ?? 3000)
const SELECT = 'SELECT id, label FROM bench_items WHERE id = $1'
let query: (t: string, v: unknown[]) => Promise<unknown>
let router: any
const real = process.env.REAL === '1'
const mk = (url: string) => (real ? new pg.Pool({ connectionString: url, max: 10 }) : new MemoryPool({ connectionString: url }))
if (mode === 'pool') {
  const p = mk(replica); query = (t, v) => p.query(t, v)
} else {
  router = createRouter({ primary: mk(primary), replicas: replica === '-' ? [] : [mk(replica)] })
  await router.ready()
  query = mode === 'router.query' ? (t, v) => router.query(t, v) : (t, v) => router.pool.query(t, v)
}
async function run(dur: number) {
  let ops = 0; const end = performance.now() + dur
  await Promise.all(Array.from({ length: 16 }, async (_, i) => { while (performance.now() < end) { await query(SELECT, [i]); ops++ } }))
  return ops
}
await run(500)
const rounds: number[] = []
for (let r = 0; r < 5; r++) {
  const c0 = process.cpuUsage(); const ops = await run(ms / 5); const c = process.cpuUsage(c0)
  rounds.push((c.user + c.system) / ops)
}
rounds.sort((a, b) => a - b)
console.log(`${mode} cpu µs/op median ${rounds[2].toFixed(2)} [${rounds.map((x) => x.toFixed(2)).join(' ')}]`)
await router?.end()
if (mode === 'pool') process.exit(0)
