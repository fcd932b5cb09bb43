import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { createClassifier, DEFAULT_WRITE_FUNCTIONS } from '../src/classify/index.js'
import { SQL_TEXT_FUNCTIONS } from '../src/classify/sql-text-functions.js'

/*
 * The classifier's list of functions with effects against the verdicts it was generated from
 * (test/fixtures/classify-functions.json.gz, by scripts/generate-function-effects.ts): the list must be exactly the
 * functions judged to have effects on some supported server, and it must hold the functions issue #22 found
 * missing. classify-catalog.int.test.ts checks that the verdicts cover the test server's whole pg_proc.
 */

interface Verdict {
  readonly signature: string
  readonly extension: string | null
  readonly volatility: string
  readonly verdict: 'effect' | 'read'
  readonly evidence: string
}

interface Server {
  readonly extensions: readonly string[]
  readonly functions: readonly Verdict[]
}

const fixture = JSON.parse(
  gunzipSync(readFileSync(new URL('./fixtures/classify-functions.json.gz', import.meta.url))).toString(
    'utf8',
  ),
) as Record<string, unknown>

/** The verdict on each name, over its overloads and the servers. */
const names = fixture.names as Readonly<
  Record<string, { readonly verdict: 'effect' | 'read'; readonly evidence: string }>
>
const servers = Object.entries(fixture).filter(([key]) => /^\d+$/.test(key)) as Array<[string, Server]>

function nameOf(signature: string): string {
  const head = signature.slice(0, signature.indexOf('('))
  const name = head.slice(head.lastIndexOf('.') + 1)
  return name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name
}

describe('the list of functions with effects', () => {
  it('was generated on PostgreSQL 18 and 15 with their contrib extensions', () => {
    expect(servers.map(([major]) => major)).toEqual(expect.arrayContaining(['15', '18']))
    for (const [, { extensions, functions }] of servers) {
      expect(extensions).toEqual(
        expect.arrayContaining(['dblink', 'pg_prewarm', 'pg_buffercache', 'tablefunc', 'pageinspect']),
      )
      expect(functions.length).toBeGreaterThan(3000)
    }
  })

  it('is exactly the names judged to have effects, every function of every server judged', () => {
    const judged = Object.entries(names)
    expect([...DEFAULT_WRITE_FUNCTIONS].sort()).toEqual(
      judged.filter(([, { verdict }]) => verdict === 'effect').map(([name]) => name),
    )
    const signatures = new Set(
      servers.flatMap(([, { functions }]) => functions.map((fn) => nameOf(fn.signature))),
    )
    expect(judged.map(([name]) => name).sort()).toEqual([...signatures].sort())
    for (const [name] of SQL_TEXT_FUNCTIONS.values()) expect(DEFAULT_WRITE_FUNCTIONS).not.toContain(name)
  })

  it.each([
    'pg_nextoid',
    'pg_replication_origin_session_is_setup',
    'pg_truncate_visibility_map',
    'pg_log_backend_memory_contexts',
    'pg_prewarm',
    'pg_buffercache_evict_relation',
  ])('holds %s, which issue #22 found missing', (name) => {
    expect(DEFAULT_WRITE_FUNCTIONS).toContain(name)
    expect(createClassifier().classify(`SELECT ${name}('x')`)).toEqual({
      target: 'primary',
      reason: `volatile-function:${name}`,
    })
  })
})
