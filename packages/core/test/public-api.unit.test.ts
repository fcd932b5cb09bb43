import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { beforeAll, describe, expect, it } from 'vitest'
import * as api from '../src/index.js'

const repository = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

/**
 * TypeScript code checked as an application would compile it: strict, against the packages' sources. Each snippet
 * is a module placed (virtually) in the package whose dependencies it imports, so that `@pgroute/*`, `pg`, `kysely`
 * and `drizzle-orm` resolve as they would for a user.
 */
interface Snippet {
  readonly name: string
  readonly code: string
}

/**
 * What a README snippet may use without declaring it: the request and response of the HTTP handler it stands in,
 * and a router made elsewhere. A snippet that declares its own (`const router = …`) shadows these.
 */
const CONTEXT = `
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Router } from '@pgroute/core'
declare global {
  const req: IncomingMessage
  const res: ServerResponse
  const router: Router
}
export {}
`

function packageFor(code: string): string {
  if (/from '(?:kysely|@pgroute\/kysely)'/.test(code)) return 'packages/kysely-adapter'
  if (/from '(?:drizzle-orm[^']*|@pgroute\/drizzle)'/.test(code)) return 'packages/drizzle-adapter'
  return 'packages/core'
}

/** TypeScript errors of `snippets`, each as `name: message`. */
function compile(snippets: readonly Snippet[]): string[] {
  const files = new Map<string, string>()
  const names = new Map<string, string>()
  for (const [i, snippet] of snippets.entries()) {
    const folder = join(repository, packageFor(snippet.code), 'test', '__snippets__')
    files.set(join(folder, 'context.ts'), CONTEXT)
    const file = join(folder, `snippet-${i}.ts`)
    // Every snippet is a module: top-level await and its own scope.
    files.set(file, `${snippet.code}\nexport {}\n`)
    names.set(file, snippet.name)
  }
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    customConditions: ['pgroute-source'],
    types: ['node'],
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmit: true,
    typeRoots: [join(repository, 'node_modules/@types')],
  }
  const host = ts.createCompilerHost(options)
  const read = host.readFile.bind(host)
  const exists = host.fileExists.bind(host)
  const source = host.getSourceFile.bind(host)
  host.readFile = (file) => files.get(file) ?? read(file)
  host.fileExists = (file) => files.has(file) || exists(file)
  host.getSourceFile = (file, language, ...rest) => {
    const text = files.get(file)
    return text === undefined ? source(file, language, ...rest) : ts.createSourceFile(file, text, language)
  }
  // Each snippet's folder sits in an ESM package (`"type": "module"`): `.ts` there is an ES module.
  const program = ts.createProgram({ rootNames: [...files.keys()], options, host })
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file !== undefined && names.has(d.file.fileName))
    .map((d) => `${names.get(d.file!.fileName)}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`)
}

/** The ```ts blocks of a Markdown file. */
function tsBlocks(path: string): Snippet[] {
  const text = readFileSync(join(repository, path), 'utf8')
  return [...text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match, i) => ({
    name: `${path} block ${i + 1}`,
    code: match[1]!,
  }))
}

/** A module that uses every public type an application names, as an application would. */
const OPTION_TYPES: Snippet = {
  name: 'option types',
  code: `
import type {
  FailoverOptions, HealthCheckOptions, LagOptions, LogMethod, Logger, PoolDefaults, ReadYourWritesOptions,
  RetryOptions, RouterOptions, TimeoutOptions,
} from '@pgroute/core'
import { RoutedPool, createRouter } from '@pgroute/core'
const logger: Logger = console
const log: LogMethod = logger.info
const timeouts: TimeoutOptions = { readMs: 1000, writeMs: 0 }
const sections: [FailoverOptions, HealthCheckOptions, LagOptions, PoolDefaults, ReadYourWritesOptions, RetryOptions] =
  [{}, {}, {}, {}, {}, {}]
const options: RouterOptions = { primary: 'postgres://x', timeouts, logger }
const pool: RoutedPool = createRouter(options).pool
const isRouted: boolean = pool instanceof RoutedPool
void [log, sections, isRouted]
`,
}

const README_SNIPPETS = [...tsBlocks('README.md'), ...tsBlocks('packages/core/README.md')]

/** The errors of every snippet, compiled once (a TypeScript program over the packages takes seconds). */
let errors: string[] = []

beforeAll(() => {
  errors = compile([OPTION_TYPES, ...README_SNIPPETS])
}, 120_000)

describe('the public entry point', () => {
  it('exports the classes it declares as values, so instanceof works', () => {
    expect(typeof api.RoutedPool).toBe('function')
    expect(typeof api.RoutedClient).toBe('function')
    const router = api.createRouter({
      primary: 'postgres://app@127.0.0.1:1/app',
      healthCheck: { intervalMs: 60_000 },
    })
    try {
      expect(router.pool).toBeInstanceOf(api.RoutedPool)
    } finally {
      void router.end()
    }
  })

  it('exports the type of every option section, and every public type a signature names', () => {
    expect(errors.filter((error) => error.startsWith(`${OPTION_TYPES.name}:`))).toEqual([])
  })
})

describe('README code', () => {
  it('compiles under strict, as a user would paste it', () => {
    expect(README_SNIPPETS.length).toBeGreaterThan(2)
    expect(errors.filter((error) => !error.startsWith(`${OPTION_TYPES.name}:`))).toEqual([])
  })
})
