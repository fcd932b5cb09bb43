import { createRequire } from 'node:module'
import type pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { createRouter, type Router } from '../src/index.js'

const require = createRequire(import.meta.url)

/**
 * A second copy of `pg` (and of its `pg-pool`), as an application gets when its lockfile holds two versions: loaded
 * afresh, its classes are not the ones pgroute uses.
 */
function loadAnotherPg(): typeof pg {
  const modules = [require.resolve('pg'), require.resolve('pg-pool', { paths: [require.resolve('pg')] })]
  const folders = modules.map((file) => file.slice(0, file.lastIndexOf('node_modules/') + 13))
  const cached = Object.keys(require.cache).filter((key) =>
    folders.some((folder) => key.startsWith(`${folder}pg/`) || key.startsWith(`${folder}pg-pool/`)),
  )
  const saved = new Map(cached.map((key) => [key, require.cache[key]]))
  for (const key of cached) delete require.cache[key]
  try {
    return require('pg') as typeof pg
  } finally {
    for (const key of Object.keys(require.cache))
      if (folders.some((f) => key.startsWith(`${f}pg/`) || key.startsWith(`${f}pg-pool/`)))
        delete require.cache[key]
    for (const [key, module] of saved) require.cache[key] = module
  }
}

const other = loadAnotherPg()
const routers: Router[] = []

afterAll(async () => {
  await Promise.all(routers.map((router) => router.end()))
})

function router(options: Parameters<typeof createRouter>[0]): Router {
  const made = createRouter({ healthCheck: { intervalMs: 60_000 }, ...options })
  routers.push(made)
  return made
}

describe('two copies of pg', () => {
  it('the test loads a copy of pg whose Pool is another class', () => {
    expect(other.Pool).not.toBe(require('pg').Pool)
    expect(router({ primary: 'postgres://app@127.0.0.1:1/app' }).pool).not.toBeInstanceOf(other.Pool)
  })

  it('warns when given a pg.Pool of another copy than its own, naming the fix', async () => {
    const warnings: Error[] = []
    const listen = (warning: Error) => warnings.push(warning)
    process.on('warning', listen)
    const foreign = new other.Pool({ connectionString: 'postgres://app@127.0.0.1:1/app' })
    try {
      router({ primary: foreign as unknown as pg.Pool })
      await new Promise((resolve) => setImmediate(resolve))
    } finally {
      process.off('warning', listen)
      await foreign.end()
    }
    const warning = warnings.find((w) => (w as { code?: string }).code === 'PGROUTE_FOREIGN_PG')
    expect(warning?.message).toMatch(/another copy of `pg`/)
    expect(warning?.message).toMatch(/dedupe/)
  })

  it('router.pool handed to another copy of pg fails loudly instead of connecting to localhost', async () => {
    const routed = router({ primary: 'postgres://app@127.0.0.1:1/app' })
    // What a library does when `instanceof pg.Pool` fails for its own copy: it takes the pool for a config.
    const taken = new other.Pool(routed.pool as never)
    try {
      const error = (await taken.query('SELECT 1').catch((caught: unknown) => caught)) as Error
      expect(error).toBeInstanceOf(Error)
      expect(error.message).toMatch(/router\.pool is a pgroute pool, not a connection config/)
      expect(error.message).toMatch(/two copies of pg/)
    } finally {
      await taken.end()
    }
  })

  it('router.pool compares as any object does (deep equality reads its properties)', async () => {
    const routed = router({ primary: 'postgres://app@127.0.0.1:1/app' })
    expect(routed.pool).toEqual(routed.pool)
    expect(routed.pool).not.toBe(routed.primary)
  })
})
