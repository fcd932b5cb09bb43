/*
 * Builds test/fixtures/classify-corpus.json.gz, the corpus of the classifier's differential test:
 *   node --conditions=pgroute-source --import tsx packages/core/test/corpus/build-classify-corpus.ts <libpg_query git dir>
 * The git dir is a clone of pganalyze/libpg_query (bare or not); only the SQL of its test/sql/ is read, which is
 * PostgreSQL's regression SQL. Scripts are split into statements by PostgreSQL's parser; statements it
 * cannot parse are dropped (the regression suite tests errors on purpose), and so are psql meta-commands.
 * That SQL is PostgreSQL's (Portions Copyright (c) 1996-2025, The PostgreSQL Global Development Group, under the
 * PostgreSQL License), kept here as test data only.
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { scanSync } from 'libpg-query'
import { drizzleStatements } from '../../../drizzle-adapter/test/fixtures/corpus-statements.js'
import { kyselyStatements } from '../../../kysely-adapter/test/fixtures/corpus-statements.js'
import { loadOracle, parses } from '../helpers/parse-tree-oracle.js'
import { prismaStatements, typeormStatements } from './orm-templates.js'
import { tortureStatements } from './torture-statements.js'

const OUTPUT = new URL('../fixtures/classify-corpus.json.gz', import.meta.url)

function git(gitDir: string, ...args: string[]): string {
  return execFileSync('git', ['--git-dir', gitDir, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
}

/** psql meta-commands are no SQL: whole-line ones go, a trailing `\g…` ends the statement before it. */
function withoutMetaCommands(script: string): string {
  return script
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('\\'))
    .map((line) => line.replace(/\\(gset|gexec|gx|g|crosstabview|gdesc|bind)\b.*$/, ';'))
    .join('\n')
}

/** Pieces of `script` between top-level semicolons, as PostgreSQL's scanner sees them; undefined when it cannot scan. */
function semicolonPieces(script: string): string[] | undefined {
  let tokens: Array<{ start: number; end: number; text: string }>
  try {
    tokens = scanSync(script).tokens
  } catch {
    return undefined
  }
  const bytes = Buffer.from(script, 'utf8')
  const pieces: string[] = []
  let from = 0
  for (const token of tokens) {
    if (token.text !== ';') continue
    pieces.push(bytes.subarray(from, token.end).toString('utf8'))
    from = token.end
  }
  pieces.push(bytes.subarray(from).toString('utf8'))
  return pieces
}

/**
 * Statements of a script: pieces between semicolons, joined with the next ones while the parser rejects them
 * (a BEGIN ATOMIC body holds semicolons), kept when the parser accepts them.
 */
function splitScript(script: string): string[] {
  const out: string[] = []
  const blocks = script.split(/\n\s*\n/)
  // Scan block by block: one unterminated literal (tested on purpose) must not lose the whole file.
  const pieces = blocks.flatMap((block) => semicolonPieces(`${block}\n`) ?? [])
  for (let i = 0; i < pieces.length; i++) {
    let text = pieces[i]!
    for (let j = i + 1; !parses(text) && j < Math.min(pieces.length, i + 12); j++) text += pieces[j]
    const statement = text.trim().replace(/;\s*$/, '').trim()
    if (statement.split('\n').every((line) => line.trim() === '' || line.trimStart().startsWith('--')))
      continue
    if (parses(statement)) out.push(statement)
  }
  return out
}

function regressionStatements(gitDir: string): Record<string, string[]> {
  const files = git(gitDir, 'ls-tree', '-r', '--name-only', 'HEAD', 'test/sql')
    .split('\n')
    .filter((f) => f.endsWith('.sql'))
  const out: Record<string, string[]> = { 'postgres-regress': [], 'plpgsql-regress': [] }
  for (const file of files) {
    const source = file.includes('plpgsql_regress') ? 'plpgsql-regress' : 'postgres-regress'
    out[source]!.push(...splitScript(withoutMetaCommands(git(gitDir, 'show', `HEAD:${file}`))))
  }
  return out
}

async function main(): Promise<void> {
  const gitDir = process.argv[2]
  if (gitDir === undefined) throw new Error('usage: build-classify-corpus.ts <libpg_query git dir>')
  await loadOracle()
  const sources: Record<string, string[]> = {
    ...regressionStatements(gitDir),
    kysely: kyselyStatements(),
    drizzle: drizzleStatements(),
    prisma: prismaStatements(),
    typeorm: typeormStatements(),
    torture: tortureStatements(),
  }
  const seen = new Set<string>()
  const corpus: Record<string, string[]> = {}
  for (const [source, statements] of Object.entries(sources)) {
    corpus[source] = statements.filter((sql) => {
      if (seen.has(sql) || !parses(sql)) return false
      seen.add(sql)
      return true
    })
    console.info(`${source}: ${corpus[source]!.length} statements`)
  }
  const revision = git(gitDir, 'rev-parse', 'HEAD').trim()
  const json = JSON.stringify({ regressionFrom: `pganalyze/libpg_query@${revision}`, sources: corpus })
  writeFileSync(OUTPUT, gzipSync(json, { level: 9 }))
  console.info(`${seen.size} statements, ${json.length} bytes, written to ${OUTPUT.pathname}`)
}

await main()
