/*
 * The SQL keywords the classifier reacts to, as small integer codes: the one list of them. Each `KW_<WORD>`
 * constant is the code of the word <word> (see `sql-keywords.ts`, which builds its lookup table from these names).
 * Codes from KW_RESERVED_MIN up are PostgreSQL reserved words, which can never name a table without quotes; the
 * remaining reserved words share one code. Every other word is an ordinary name (TOKEN_WORD).
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
