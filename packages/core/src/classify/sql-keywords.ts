import { hashName, sameName } from './name-hash.js'

/*
 * The SQL keywords the classifier reacts to, as small integer codes. Codes from KW_RESERVED_MIN up are
 * PostgreSQL reserved words, which can never name a table without quotes; the remaining reserved words share
 * one code. Every other word is an ordinary name (TOKEN_WORD).
 */

export const KW_MIN = 100

// Unreserved keywords.
export const KW_ABORT = 100
export const KW_ALTER = 101
export const KW_ATOMIC = 102
export const KW_BEGIN = 103
export const KW_CALL = 104
export const KW_CHAIN = 105
export const KW_CHECKPOINT = 106
export const KW_CLOSE = 107
export const KW_CLUSTER = 108
export const KW_COMMENT = 109
export const KW_COMMIT = 110
export const KW_COPY = 111
export const KW_DEALLOCATE = 112
export const KW_DECLARE = 113
export const KW_DELETE = 114
export const KW_DISCARD = 115
export const KW_DROP = 116
export const KW_EXECUTE = 117
export const KW_EXPLAIN = 118
export const KW_GLOBAL = 119
export const KW_IMPORT = 120
export const KW_INSERT = 121
export const KW_KEY = 122
export const KW_LISTEN = 123
export const KW_LOAD = 124
export const KW_LOCAL = 125
export const KW_LOCK = 126
export const KW_MERGE = 127
export const KW_MOVE = 128
export const KW_NO = 129
export const KW_NOTIFY = 130
export const KW_OFF = 131
export const KW_PREPARE = 132
export const KW_PREPARED = 133
export const KW_READ = 134
export const KW_REASSIGN = 135
export const KW_REFRESH = 136
export const KW_REINDEX = 137
export const KW_RELEASE = 138
export const KW_REPLACE = 139
export const KW_RESET = 140
export const KW_REVOKE = 141
export const KW_ROLLBACK = 142
export const KW_SAVEPOINT = 143
export const KW_SECURITY = 144
export const KW_SERIALIZABLE = 145
export const KW_SET = 146
export const KW_SHARE = 147
export const KW_SHOW = 148
export const KW_START = 149
export const KW_STDOUT = 150
export const KW_TEMP = 151
export const KW_TEMPORARY = 152
export const KW_TRANSACTION = 153
export const KW_TRUNCATE = 154
export const KW_UNLISTEN = 155
export const KW_UPDATE = 156
export const KW_VACUUM = 157
export const KW_VALUES = 158
export const KW_WRITE = 159
export const KW_STDIN = 160

/** Codes from here up are reserved words. */
export const KW_RESERVED_MIN = 200

export const KW_ANALYSE = 200
export const KW_ANALYZE = 201
export const KW_AND = 202
export const KW_AS = 203
export const KW_CASE = 204
export const KW_CREATE = 205
export const KW_DO = 206
export const KW_END = 207
export const KW_FALSE = 208
export const KW_FETCH = 209
export const KW_FOR = 210
export const KW_FROM = 211
export const KW_GRANT = 212
export const KW_INTO = 213
export const KW_ONLY = 214
export const KW_OR = 215
export const KW_SELECT = 216
export const KW_TABLE = 217
export const KW_TO = 218
export const KW_VERBOSE = 219
export const KW_WITH = 220
/** Every other reserved word, e.g. WHERE, JOIN, UNION: the end of a name, never the start of one. */
export const KW_RESERVED = 255

const KEYWORDS: ReadonlyArray<readonly [string, number]> = [
  ['abort', KW_ABORT],
  ['alter', KW_ALTER],
  ['atomic', KW_ATOMIC],
  ['begin', KW_BEGIN],
  ['call', KW_CALL],
  ['chain', KW_CHAIN],
  ['checkpoint', KW_CHECKPOINT],
  ['close', KW_CLOSE],
  ['cluster', KW_CLUSTER],
  ['comment', KW_COMMENT],
  ['commit', KW_COMMIT],
  ['copy', KW_COPY],
  ['deallocate', KW_DEALLOCATE],
  ['declare', KW_DECLARE],
  ['delete', KW_DELETE],
  ['discard', KW_DISCARD],
  ['drop', KW_DROP],
  ['execute', KW_EXECUTE],
  ['explain', KW_EXPLAIN],
  ['global', KW_GLOBAL],
  ['import', KW_IMPORT],
  ['insert', KW_INSERT],
  ['key', KW_KEY],
  ['listen', KW_LISTEN],
  ['load', KW_LOAD],
  ['local', KW_LOCAL],
  ['lock', KW_LOCK],
  ['merge', KW_MERGE],
  ['move', KW_MOVE],
  ['no', KW_NO],
  ['notify', KW_NOTIFY],
  ['off', KW_OFF],
  ['prepare', KW_PREPARE],
  ['prepared', KW_PREPARED],
  ['read', KW_READ],
  ['reassign', KW_REASSIGN],
  ['refresh', KW_REFRESH],
  ['reindex', KW_REINDEX],
  ['release', KW_RELEASE],
  ['replace', KW_REPLACE],
  ['reset', KW_RESET],
  ['revoke', KW_REVOKE],
  ['rollback', KW_ROLLBACK],
  ['savepoint', KW_SAVEPOINT],
  ['security', KW_SECURITY],
  ['serializable', KW_SERIALIZABLE],
  ['set', KW_SET],
  ['share', KW_SHARE],
  ['show', KW_SHOW],
  ['start', KW_START],
  ['stdin', KW_STDIN],
  ['stdout', KW_STDOUT],
  ['temp', KW_TEMP],
  ['temporary', KW_TEMPORARY],
  ['transaction', KW_TRANSACTION],
  ['truncate', KW_TRUNCATE],
  ['unlisten', KW_UNLISTEN],
  ['update', KW_UPDATE],
  ['vacuum', KW_VACUUM],
  ['values', KW_VALUES],
  ['write', KW_WRITE],
  ['analyse', KW_ANALYSE],
  ['analyze', KW_ANALYZE],
  ['and', KW_AND],
  ['as', KW_AS],
  ['case', KW_CASE],
  ['create', KW_CREATE],
  ['do', KW_DO],
  ['end', KW_END],
  ['false', KW_FALSE],
  ['fetch', KW_FETCH],
  ['for', KW_FOR],
  ['from', KW_FROM],
  ['grant', KW_GRANT],
  ['into', KW_INTO],
  ['only', KW_ONLY],
  ['or', KW_OR],
  ['select', KW_SELECT],
  ['table', KW_TABLE],
  ['to', KW_TO],
  ['verbose', KW_VERBOSE],
  ['with', KW_WITH],
  // The other reserved words of PostgreSQL (including those that may only name functions or types), and
  // BETWEEN, which can follow a column name but never start a table reference.
  ...[
    'all',
    'any',
    'array',
    'asc',
    'asymmetric',
    'authorization',
    'between',
    'binary',
    'both',
    'cast',
    'check',
    'collate',
    'collation',
    'column',
    'concurrently',
    'constraint',
    'cross',
    'current_catalog',
    'current_date',
    'current_role',
    'current_schema',
    'current_time',
    'current_timestamp',
    'current_user',
    'default',
    'deferrable',
    'desc',
    'distinct',
    'else',
    'except',
    'foreign',
    'freeze',
    'full',
    'group',
    'having',
    'ilike',
    'in',
    'initially',
    'inner',
    'intersect',
    'is',
    'isnull',
    'join',
    'lateral',
    'leading',
    'left',
    'like',
    'limit',
    'localtime',
    'localtimestamp',
    'natural',
    'not',
    'notnull',
    'null',
    'offset',
    'on',
    'order',
    'outer',
    'overlaps',
    'placing',
    'primary',
    'references',
    'returning',
    'right',
    'session_user',
    'similar',
    'some',
    'symmetric',
    'system_user',
    'tablesample',
    'then',
    'trailing',
    'true',
    'union',
    'unique',
    'user',
    'using',
    'variadic',
    'when',
    'where',
    'window',
  ].map((word) => [word, KW_RESERVED] as const),
]

// An open-addressing table on typed arrays: a lookup per word is a few array reads, no Map hashing.
const TABLE_SIZE = 1024
const tableHashes = new Int32Array(TABLE_SIZE)
const tableCodes = new Int32Array(TABLE_SIZE) // 0 marks a free slot
const tableWords: string[] = new Array(TABLE_SIZE).fill('')
for (const [word, code] of KEYWORDS) {
  const hash = hashName(word)
  let slot = hash & (TABLE_SIZE - 1)
  while (tableCodes[slot] !== 0) {
    if (tableHashes[slot] === hash) throw new Error(`Keyword hash collision: ${word} and ${tableWords[slot]}`)
    slot = (slot + 1) & (TABLE_SIZE - 1)
  }
  tableHashes[slot] = hash
  tableCodes[slot] = code
  tableWords[slot] = word
}

/** The keyword code of the unquoted word `text[start, end)` with the given hash, or `notKeyword`. */
export function keywordCode(
  text: string,
  start: number,
  end: number,
  hash: number,
  notKeyword: number,
): number {
  let slot = hash & (TABLE_SIZE - 1)
  for (let code = tableCodes[slot]!; code !== 0; code = tableCodes[slot]!) {
    if (tableHashes[slot] === hash)
      return sameName(text, start, end, false, tableWords[slot]!) ? code : notKeyword
    slot = (slot + 1) & (TABLE_SIZE - 1)
  }
  return notKeyword
}
