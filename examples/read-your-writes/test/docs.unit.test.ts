import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const page = readFileSync(`${root}docs/read-your-writes.md`, 'utf8')

/** Each `<!-- example: path -->` marker of the page and the code block right after it. */
const shown = [...page.matchAll(/<!-- example: (\S+) -->\n\n```\w+\n([\s\S]*?)\n```/g)].map(
  ([, path, code]) => ({
    path: path!,
    code: code!,
  }),
)

/** The example files the page must show: every source file but the schema, and the Next.js app's own files. */
const examples = [
  ...readdirSync(`${root}examples/read-your-writes/src`)
    .filter((file) => file !== 'schema.ts')
    .map((file) => `examples/read-your-writes/src/${file}`),
  'examples/read-your-writes/next-app/lib/router.ts',
  'examples/read-your-writes/next-app/lib/post-handlers.ts',
  'examples/read-your-writes/next-app/app/posts/route.ts',
  'examples/read-your-writes/next-app/app/posts/[id]/route.ts',
]

describe('docs/read-your-writes.md', () => {
  it('shows every example file', () => {
    expect(shown.map(({ path }) => path).sort()).toEqual([...examples].sort())
  })

  it.each(shown)('shows $path as it is', ({ path, code }) => {
    expect(code).toBe(readFileSync(`${root}${path}`, 'utf8').trimEnd())
  })
})
