import { hashName } from './name-hash.js'

/*
 * Functions that run SQL given to them as text. What runs is as much the statement's as its own text: the
 * classifier reads the literal arguments as SQL (see QueryInspector), and a call whose SQL is no plain read, or
 * is not a literal, needs the primary.
 */

/** One argument of a call, as far as the classifier read it. */
export interface CallArgument {
  /** The decoded value when the argument is one string literal token, else undefined. */
  readonly text: string | undefined
  /** The argument is one numeric literal token. */
  readonly numeric: boolean
}

/**
 * What a call with these arguments runs: the SQL texts to classify (each must be a read for the call to be one),
 * or undefined when the call needs the primary whatever they hold (a non-literal SQL argument, a connection of
 * the session).
 */
export type SqlTextReader = (args: readonly CallArgument[]) => readonly string[] | undefined

const firstArgument: SqlTextReader = (args) => (args[0]?.text === undefined ? undefined : [args[0].text])

/**
 * Fragments pasted into a query the function builds (connectby's names, xpath_table's relation and criteria):
 * each literal is read as the select list of a query, so a call or a second statement in it is seen; a non-literal
 * text argument cannot be read.
 */
const fragments: SqlTextReader = (args) => {
  const out: string[] = []
  for (const arg of args) {
    if (arg.numeric) continue
    if (arg.text === undefined) return undefined
    out.push(`SELECT ${arg.text}`)
  }
  return out
}

/** Reading of the SQL-text functions of PostgreSQL and its contrib modules, by name. */
const READERS: Readonly<Record<string, SqlTextReader>> = {
  // xml.c: SPI_execute() of the query (read-only SPI: a function with side effects still runs).
  query_to_xml: firstArgument,
  query_to_xmlschema: firstArgument,
  query_to_xml_and_xmlschema: firstArgument,
  // tsvector_op.c: ts_stat(sqlquery [, weights]) runs its query.
  ts_stat: firstArgument,
  // tsquery_rewrite.c: ts_rewrite(query, select) runs the select; ts_rewrite(query, target, substitute) runs none.
  ts_rewrite: (args) => {
    if (args.length !== 2) return []
    return args[1]!.text === undefined ? undefined : [args[1]!.text]
  },
  // tablefunc: crosstab(source_sql [, category_sql | num_categories]) and crosstab2/3/4(source_sql).
  crosstab: (args) => {
    const out: string[] = []
    for (const [index, arg] of args.entries()) {
      if (index === 1 && arg.numeric) continue
      if (arg.text === undefined) return undefined
      out.push(arg.text)
    }
    return out
  },
  crosstab2: firstArgument,
  crosstab3: firstArgument,
  crosstab4: firstArgument,
  connectby: fragments,
  // xml2: xpath_table(key, document, relation, xpaths, criteria) pastes its arguments into a query.
  xpath_table: fragments,
  // dblink(connstr, sql [, fail_on_error]) runs sql on the server connstr names; with one argument, or a
  // connection name (no `=`) first, it uses a connection held by the session.
  dblink: (args) => {
    const connection = args[0]?.text
    if (args.length < 2 || connection === undefined || !connection.includes('=')) return undefined
    return args[1]!.text === undefined ? undefined : [args[1]!.text]
  },
}

/** The functions of {@link READERS}, by the hash of their name (see name-hash.ts). */
export const SQL_TEXT_FUNCTIONS: ReadonlyMap<number, readonly [name: string, reader: SqlTextReader]> =
  new Map(Object.entries(READERS).map(([name, reader]) => [hashName(name), [name, reader] as const]))

/** 1 at the low bits of every hash of {@link SQL_TEXT_FUNCTIONS}: a cheaper first look than the map. */
const hashBits = new Uint8Array(256)
for (const hash of SQL_TEXT_FUNCTIONS.keys()) hashBits[hash & 255] = 1

/** The entry of {@link SQL_TEXT_FUNCTIONS} for the name hash `hash`, if any. */
export function sqlTextFunction(hash: number): readonly [name: string, reader: SqlTextReader] | undefined {
  return hashBits[hash & 255] === 0 ? undefined : SQL_TEXT_FUNCTIONS.get(hash)
}
