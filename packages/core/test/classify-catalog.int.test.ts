import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import type { Cluster } from '@pgroute/cluster'
import { clusterEnvConfigured, requireControl, startTestCluster } from '@pgroute/cluster/testing'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { CATALOG_QUERY, type CatalogFunction, SKIPPED_EXTENSIONS } from '../scripts/function-catalog.js'
import { KEYWORD_LIST, KEYWORD_MAJORS } from '../src/classify/sql-keyword-list.js'

/*
 * The classifier's generated lists against the server they were generated from: the test cluster's
 * pg_get_keywords() must be the keyword list's column of its major, and its pg_proc (with every contrib
 * extension it ships installed) must hold exactly the functions the function list judged. When a server update
 * adds a keyword or a function, this fails: regenerate with packages/core/scripts/generate-keywords.ts and
 * generate-function-effects.ts.
 */

interface FunctionsFixture {
  readonly [major: string]: {
    readonly extensions: readonly string[]
    readonly functions: ReadonlyArray<{ readonly signature: string }>
  }
}

const fixture = JSON.parse(
  gunzipSync(readFileSync(new URL('./fixtures/classify-functions.json.gz', import.meta.url))).toString(
    'utf8',
  ),
) as FunctionsFixture

const external = clusterEnvConfigured()
let cluster: Cluster
let major: number

beforeAll(async () => {
  if (external) return
  cluster = await startTestCluster({ replicas: 0 })
  const { rows } = await cluster.primary.query<{ v: string }>(
    "SELECT current_setting('server_version_num') AS v",
  )
  major = Math.floor(Number(rows[0]!.v) / 10_000)
})

afterAll(async () => {
  await cluster?.stop()
})

describe("the classifier's lists against the server's catalogs (skipped on an external cluster: installs every contrib extension)", () => {
  beforeEach((context) =>
    requireControl(context, 'installs every contrib extension and reads the catalogs as a superuser'),
  )
  it("has the keywords of the server's pg_get_keywords(), with their categories", async (context) => {
    const column = KEYWORD_MAJORS.indexOf(major)
    if (column < 0) context.skip(`the keyword list has no column for PostgreSQL ${major}`)
    const { rows } = await cluster.primary.query<{ word: string; catcode: string; barelabel: boolean }>(
      'SELECT word, catcode, barelabel FROM pg_get_keywords() ORDER BY word',
    )
    const server = rows.map((row) => `${row.word} ${row.catcode}${row.barelabel ? 'b' : 'a'}`)
    const listed = KEYWORD_LIST.map(([word, columns]) => `${word} ${columns.split(' ')[column]}`).filter(
      (line) => !line.endsWith(' --'),
    )
    expect(listed).toEqual(server)
  })

  it("has judged every function of the server's pg_proc and of its contrib extensions", async (context) => {
    const judged = fixture[major]
    if (judged === undefined) context.skip(`the function list was not generated on PostgreSQL ${major}`)
    const { rows } = await cluster.primary.query<{ name: string }>('SELECT name FROM pg_available_extensions')
    const available = new Set(rows.map((row) => row.name))
    const missing = judged!.extensions.filter((name) => !available.has(name))
    if (missing.length > 0)
      context.skip(`the server lacks extensions the list was made with: ${missing.join(', ')}`)
    for (const name of judged!.extensions) {
      if (!SKIPPED_EXTENSIONS.has(name))
        await cluster.primary.query(`CREATE EXTENSION IF NOT EXISTS "${name}" CASCADE`)
    }
    const { rows: functions } = await cluster.primary.query<CatalogFunction>(CATALOG_QUERY)
    const server = functions.map((fn) => fn.signature).sort()
    const listed = judged!.functions.map((fn) => fn.signature).sort()
    const added = server.filter((signature) => !listed.includes(signature))
    const removed = listed.filter((signature) => !server.includes(signature))
    expect({ added, removed }).toEqual({ added: [], removed: [] })
  })
})
