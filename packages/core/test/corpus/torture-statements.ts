/*
 * A lexical torture set for the classifier's differential corpus: the same few statements dressed in every
 * lexical form PostgreSQL accepts (quoting, U& identifiers, UESCAPE, dollar tags, nested comments, E'' strings,
 * EXPLAIN option spellings), so a lexer slip shows up as a disagreement with the parser.
 */

/** `name` as a U& identifier with every character escaped, using `marker` (default `\`). */
function unicodeIdent(name: string, marker = '\\'): string {
  const body = [...name]
    .map((char) => `${marker}${char.codePointAt(0)!.toString(16).padStart(4, '0')}`)
    .join('')
  return marker === '\\' ? `U&"${body}"` : `U&"${body}" UESCAPE '${marker}'`
}

/** `name` as a U& identifier with only its first letter escaped (`+` six-digit form when `long`). */
function partlyEscaped(name: string, marker = '\\', long = false): string {
  const code = name.codePointAt(0)!.toString(16)
  const escaped = long ? `${marker}+${code.padStart(6, '0')}` : `${marker}${code.padStart(4, '0')}`
  const tail = `U&"${escaped}${name.slice(1)}"`
  return marker === '\\' ? tail : `${tail} UESCAPE '${marker}'`
}

const functions = [
  'pg_advisory_lock',
  'nextval',
  'setseed',
  'pg_notify',
  'txid_current',
  'now',
  'lower',
  'count',
]
const args: Record<string, string> = {
  nextval: `'s'`,
  setseed: '0.5',
  pg_notify: `'c', 'm'`,
  lower: `'A'`,
  count: '*',
}

function spellings(name: string): string[] {
  return [
    name,
    name.toUpperCase(),
    `"${name}"`,
    `"${name.toUpperCase()}"`,
    `pg_catalog.${name}`,
    `"pg_catalog"."${name}"`,
    unicodeIdent(name),
    partlyEscaped(name),
    partlyEscaped(name, '\\', true),
    partlyEscaped(name, '!'),
    unicodeIdent(name, '!'),
    `u&"${name}"`,
    `U&"${name}" /* c */ UESCAPE '#'`,
    `U&"${name}"\nUESCAPE\n'%'`,
  ]
}

function calls(): string[] {
  const out: string[] = []
  for (const name of functions) {
    for (const spelling of spellings(name)) {
      const call = `${spelling}(${args[name] ?? '1'})`
      out.push(`SELECT ${call}`, `SELECT * FROM t WHERE x = ${call}`, `EXPLAIN SELECT ${call}`)
    }
  }
  return out
}

const explainOptions = [
  'ANALYZE',
  'analyse',
  '"analyze"',
  '"ANALYZE"',
  'U&"\\0061nalyze"',
  `U&"!0061nalyze" UESCAPE '!'`,
  'ANALYZE true',
  'ANALYZE on',
  'ANALYZE 1',
  "ANALYZE 'on'",
  'ANALYZE false',
  'ANALYZE off',
  'ANALYZE OFF',
  'ANALYZE 0',
  "ANALYZE 'off'",
  "ANALYZE 'FALSE'",
  'ANALYZE "off"',
  "ANALYZE E'off'",
  '"analyze" off',
  'VERBOSE, ANALYZE',
  'FORMAT JSON, "analyze"',
  'ANALYZE, ANALYZE off',
  'ANALYZE off, ANALYZE',
  'BUFFERS, COSTS off',
  'SETTINGS, WAL false',
]

function explains(): string[] {
  const out: string[] = []
  const targets = [
    'SELECT pg_advisory_lock(4242)',
    'SELECT 1',
    'DELETE FROM t WHERE id = 1',
    'INSERT INTO t VALUES (1)',
    'UPDATE t SET x = 1',
    'WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d',
    'SELECT * FROM t FOR UPDATE',
    'CREATE TABLE t2 AS SELECT 1',
  ]
  for (const options of explainOptions) {
    for (const target of targets) out.push(`EXPLAIN (${options}) ${target}`)
  }
  for (const target of targets) out.push(`EXPLAIN ANALYZE ${target}`, `EXPLAIN ANALYZE VERBOSE ${target}`)
  return out
}

function literalsAndComments(): string[] {
  const hidden = 'DELETE FROM t; SELECT pg_advisory_lock(1)'
  return [
    `SELECT '${hidden.replaceAll("'", "''")}'`,
    `SELECT $$${hidden}$$`,
    `SELECT $a$ $$ ${hidden} $$ $a$`,
    `SELECT $_1$${hidden}$_1$`,
    `SELECT E'\\' ${hidden.replaceAll("'", "\\'")}'`,
    `SELECT e'it\\'s'; SELECT 1`,
    `SELECT E'\\\\'; DELETE FROM t`,
    `SELECT 'a''b', "c""d" FROM t`,
    `SELECT U&'\\0041', U&'!0041' UESCAPE '!'`,
    `SELECT B'101', X'ff', N'x'`,
    `/* ${hidden} */ SELECT 1`,
    `/* /* nested */ ${hidden} */ SELECT 1`,
    `/* a /* b /* c */ */ */ SELECT nextval('s')`,
    `SELECT 1 -- ${hidden}\n`,
    `SELECT 1 -- ;\n; DELETE FROM t`,
    `SELECT "${hidden.replaceAll('"', '""')}" FROM t`,
    `SELECT "pg_advisory_lock" FROM t`,
    `SELECT t."nextval" FROM t`,
    `SELECT 1 AS "update", 2 AS "delete"`,
    `SELECT $1::text AS nextval`,
    `SELECT 1 /* ; */ ; /* ; */ SELECT 2`,
    `SELECT $tag$ ; $tag$; DELETE FROM t`,
    `SELECT $q$ ${hidden} $q$ AS "x$q$"`,
    `SELECT 1 FROM t AS "FOR" WHERE "UPDATE" = 1`,
    `SELECT a FROM t WHERE b = 'FOR UPDATE'`,
    `COPY t TO STDOUT`,
    `COPY t TO STDIN`,
    `COPY (SELECT 1) TO STDOUT`,
    `COPY (SELECT nextval('s')) TO STDOUT`,
    `COPY t FROM STDIN`,
    `COPY t TO '/tmp/x'`,
    `PREPARE TRANSACTION 'tx1'`,
    `COMMIT PREPARED 'tx1'`,
    `BEGIN READ ONLY; SELECT 1; COMMIT`,
    `BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY`,
    `START TRANSACTION READ WRITE, READ ONLY`,
  ]
}

/** The lexical torture set. */
export function tortureStatements(): string[] {
  return [...calls(), ...explains(), ...literalsAndComments()]
}
