import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const page = readFileSync(`${root}docs/orm-recipes.md`, 'utf8')

/** Each `<!-- example: path -->` marker of the page and the code block right after it. */
const shown = [...page.matchAll(/<!-- example: (\S+) -->\n\n```\w+\n([\s\S]*?)\n```/g)].map(
  ([, path, code]) => ({ path: path!, code: code! }),
)

/** The recipes the page must show: every source file of the package but the schema and the models. */
const recipes = readdirSync(`${root}examples/orm-recipes/src`)
  .filter((file) => file.endsWith('.ts') && file !== 'schema.ts' && !/-(entities|models)\.ts$/.test(file))
  .map((file) => `examples/orm-recipes/src/${file}`)

describe('docs/orm-recipes.md', () => {
  it('shows every recipe', () => {
    expect(recipes.length).toBe(6)
    expect(shown.map(({ path }) => path).sort()).toEqual([...recipes].sort())
  })

  it.each(shown)('shows $path as it is', ({ path, code }) => {
    expect(code).toBe(readFileSync(`${root}${path}`, 'utf8').trimEnd())
  })
})
