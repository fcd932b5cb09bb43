import { describe, expect, it } from 'vitest'
import { splitHosts } from '../src/config/multi-host.js'
import { resolveOptions } from '../src/config/resolve-options.js'
import { isConfigError } from '../src/errors.js'

const SECRET = 'Sup3r-S3cret-pw'

describe('multi-host connection strings', () => {
  it('split into one URL per host sharing user, password, database and options', () => {
    expect(
      splitHosts(`postgres://app:${SECRET}@h1:5432,h2,[::1]:6000/shop?sslmode=disable`, 'primary'),
    ).toEqual([
      `postgres://app:${SECRET}@h1:5432/shop?sslmode=disable`,
      `postgres://app:${SECRET}@h2/shop?sslmode=disable`,
      `postgres://app:${SECRET}@[::1]:6000/shop?sslmode=disable`,
    ])
    expect(splitHosts('postgres://h1/shop', 'primary')).toBeUndefined()
    expect(splitHosts('host=h1 dbname=shop', 'primary')).toBeUndefined()
  })

  it('make one node per host, the first the first guess of the primary', async () => {
    const resolved = resolveOptions({
      primary: `postgresql://app:${SECRET}@127.0.0.1:5432,127.0.0.1:5433,127.0.0.1:5434/app`,
    })
    try {
      expect(resolved.nodes.map((node) => [node.name, node.role])).toEqual([
        ['127.0.0.1:5432/app', 'primary'],
        ['127.0.0.1:5433/app', 'replica'],
        ['127.0.0.1:5434/app', 'replica'],
      ])
      expect(resolved.secrets).toContain(SECRET)
    } finally {
      await Promise.all(resolved.nodes.map((node) => node.pool.end()))
    }
  })

  it('work in `nodes` and in configs, named after the config', async () => {
    const resolved = resolveOptions({
      nodes: [{ name: 'db', connectionString: `postgres://app:${SECRET}@a:1,b:2/app`, weight: 2 }],
    })
    try {
      expect(resolved.nodes.map((node) => [node.name, node.role, node.weight])).toEqual([
        ['db-1', 'primary', 2],
        ['db-2', 'replica', 2],
      ])
    } finally {
      await Promise.all(resolved.nodes.map((node) => node.pool.end()))
    }
  })

  it.each([
    [`postgres://app:${SECRET}@h1:5432,,h3/app`, 'primary'],
    [`postgres://app:${SECRET}@h1:99999,h2/app`, 'primary'],
    [`postgres://app:${SECRET}@h1:54x2,h2/app`, 'primary'],
  ])('malformed host list %#: a ConfigError without the password', (url, option) => {
    let error: unknown
    try {
      resolveOptions({ primary: url })
    } catch (caught) {
      error = caught
    }
    expect(isConfigError(error)).toBe(true)
    expect((error as { option: string }).option).toBe(option)
    expect((error as Error).message).toMatch(/host \d of the multi-host connection string/)
    expect((error as Error).message).not.toContain(SECRET)
  })

  it('nodes and primary are exclusive; nodes must not be empty', () => {
    expect(() => resolveOptions({ primary: 'postgres://a/app', nodes: ['postgres://b/app'] })).toThrow(
      /`nodes`: give either/,
    )
    expect(() => resolveOptions({ nodes: [] })).toThrow(/`nodes`: expected a non-empty array/)
    expect(() => resolveOptions({})).toThrow(/`primary`: is required/)
  })
})
