/*
 * The SQL keywords the classifier reacts to, as small integer codes. Each \`KW_<WORD>\` constant is the code of the
 * word <word>; every other keyword of PostgreSQL gets the generic code of its category. The categories come from
 * PostgreSQL's keyword list (\`sql-keyword-list.ts\`, generated): codes are grouped by category, so a code tells
 * what the word may be used as without quotes, and \`classify-keywords.unit.test.ts\` checks each constant against
 * the generated list. Words that are no token of their own (ordinary names) have kinds below KW_MIN.
 */

/** The smallest keyword code: codes below are TOKEN_* kinds. */
export const KW_MIN = 100

// Unreserved keywords (UNRESERVED_KEYWORD): names of anything.
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
export const KW_MATERIALIZED = 127
export const KW_MERGE = 128
export const KW_MOVE = 129
export const KW_NO = 130
export const KW_NOTIFY = 131
export const KW_OFF = 132
export const KW_PREPARE = 133
export const KW_PREPARED = 134
export const KW_READ = 135
export const KW_REASSIGN = 136
export const KW_RECURSIVE = 137
export const KW_REFRESH = 138
export const KW_REINDEX = 139
export const KW_RELEASE = 140
export const KW_REPLACE = 141
export const KW_RESET = 142
export const KW_REVOKE = 143
export const KW_ROLLBACK = 144
export const KW_SAVEPOINT = 145
export const KW_SECURITY = 146
export const KW_SERIALIZABLE = 147
export const KW_SET = 148
export const KW_SHARE = 149
export const KW_SHOW = 150
export const KW_START = 151
export const KW_STDIN = 152
export const KW_STDOUT = 153
export const KW_TEMP = 154
export const KW_TEMPORARY = 155
export const KW_TRANSACTION = 156
export const KW_TRUNCATE = 157
export const KW_UNLISTEN = 158
export const KW_UPDATE = 159
export const KW_VACUUM = 160
export const KW_WRITE = 161
/** Every other unreserved keyword. */
export const KW_UNRESERVED = 299

/** Codes from here up are column-name, type/function-name and reserved keywords. */
export const KW_COL_NAME_MIN = 300

// Column-name keywords (COL_NAME_KEYWORD): names of tables and columns, not of functions or types.
export const KW_OVERLAY = 300
export const KW_SUBSTRING = 301
export const KW_VALUES = 302
/** Every other column-name keyword, e.g. BETWEEN, EXISTS. */
export const KW_COL_NAME = 399

/** Codes from here up are type/function-name and reserved keywords: no table or column name. */
export const KW_TYPE_FUNC_NAME_MIN = 400

// Type and function name keywords (TYPE_FUNC_NAME_KEYWORD): names of functions and types only.
export const KW_VERBOSE = 400
/** Every other type/function-name keyword, e.g. LEFT, LIKE. */
export const KW_TYPE_FUNC_NAME = 499

/** Codes from here up are reserved words, which never name anything without quotes. */
export const KW_RESERVED_MIN = 500

// Reserved keywords (RESERVED_KEYWORD).
export const KW_ANALYSE = 500
export const KW_ANALYZE = 501
export const KW_AND = 502
export const KW_AS = 503
export const KW_CASE = 504
export const KW_CREATE = 505
export const KW_DO = 506
export const KW_END = 507
export const KW_EXCEPT = 508
export const KW_FALSE = 509
export const KW_FETCH = 510
export const KW_FOR = 511
export const KW_FROM = 512
export const KW_GRANT = 513
export const KW_GROUP = 514
export const KW_HAVING = 515
export const KW_INTERSECT = 516
export const KW_INTO = 517
export const KW_LIMIT = 518
export const KW_NOT = 519
export const KW_OFFSET = 520
export const KW_ONLY = 521
export const KW_OR = 522
export const KW_ORDER = 523
export const KW_SELECT = 524
export const KW_TABLE = 525
export const KW_TO = 526
export const KW_UNION = 527
export const KW_WHERE = 528
export const KW_WINDOW = 529
export const KW_WITH = 530
/** Every other reserved word, e.g. JOIN, RETURNING: the end of a name, never the start of one. */
export const KW_RESERVED = 599

/** The first code of each category: unreserved, column name, type/function name, reserved. */
export const CATEGORY_MIN: Readonly<Record<'U' | 'C' | 'T' | 'R', number>> = {
  U: KW_MIN,
  C: KW_COL_NAME_MIN,
  T: KW_TYPE_FUNC_NAME_MIN,
  R: KW_RESERVED_MIN,
}

/** The generic code of each category. */
export const CATEGORY_GENERIC: Readonly<Record<'U' | 'C' | 'T' | 'R', number>> = {
  U: KW_UNRESERVED,
  C: KW_COL_NAME,
  T: KW_TYPE_FUNC_NAME,
  R: KW_RESERVED,
}
