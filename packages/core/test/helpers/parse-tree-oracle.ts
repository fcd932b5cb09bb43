import { loadModule, parseSync } from 'libpg-query'

/*
 * The classifier's oracle: PostgreSQL's own parser (libpg-query) and a judgement derived from the parse tree,
 * independent of the classifier's lexer and of its function list.
 */

/**
 * What a statement text is, judged from its parse tree:
 * - `read`: it may run on a hot standby with no effect a later statement could see;
 *   a transaction start whose modes end up READ ONLY (not SERIALIZABLE) is one too, and so are the COMMIT,
 *   ROLLBACK and savepoints of such a transaction begun earlier in the same text;
 * - `unsafe`: it writes, locks, takes advisory locks, depends on or changes session state: primary only.
 */
export type OracleClass = 'read' | 'unsafe'

/** The oracle's answer for one text. */
export interface OracleVerdict {
  readonly kind: OracleClass
  /** Why it is not a read (statement node or function name), for reports. */
  readonly why: string
  /** Transaction effect of the last transaction statement in the text, as the classifier reports it. */
  readonly transaction: 'begin' | 'begin-read-only' | 'end' | undefined
}

/**
 * Functions with effects beyond the statement's result, or that need the primary: written for this test
 * from PostgreSQL's documentation (functions-admin, functions-sequence, functions-info, brin, gin,
 * large objects, replication, statistics, the contrib modules), independently of the classifier's own list, and
 * corrected where a hot standby showed otherwise (test/classify-standby.int.test.ts): `txid_current_if_assigned`
 * and `pg_current_xact_id_if_assigned` run there and answer NULL, as anywhere outside a writing transaction.
 */
const SIDE_EFFECT_FUNCTIONS = new Set([
  'nextval',
  'setval',
  'currval',
  'lastval',
  'setseed',
  'pg_notify',
  'set_config',
  'txid_current',
  'pg_current_xact_id',
  'pg_export_snapshot',
  'pg_log_standby_snapshot',
  'pg_import_system_collations',
  'brin_summarize_range',
  'brin_summarize_new_values',
  'brin_desummarize_range',
  'gin_clean_pending_list',
  'pg_reload_conf',
  'pg_rotate_logfile',
  'pg_terminate_backend',
  'pg_cancel_backend',
  'pg_promote',
  'pg_switch_wal',
  'pg_create_restore_point',
  'pg_backup_start',
  'pg_backup_stop',
  'pg_current_wal_lsn',
  'pg_current_wal_insert_lsn',
  'pg_current_wal_flush_lsn',
  'pg_walfile_name',
  'pg_walfile_name_offset',
  'pg_logical_emit_message',
  'pg_replication_slot_advance',
  'pg_nextoid',
  'pg_log_backend_memory_contexts',
  'pg_truncate_visibility_map',
  'pg_prewarm',
  'pg_buffercache_evict',
  'pg_buffercache_evict_relation',
  'pg_buffercache_evict_all',
  'loread',
  'lowrite',
  'dblink_exec',
  'dblink_connect',
  'dblink_connect_u',
  'dblink_disconnect',
])

/** Families of side-effect functions, by name prefix. */
const SIDE_EFFECT_PREFIXES = [
  // Large objects: descriptors live in the session, and most of them write.
  'lo_',
  'pg_advisory_',
  'pg_try_advisory_',
  'pg_stat_reset',
  'pg_restore_',
  'pg_clear_',
  'pg_replication_origin_',
  'pg_wal_replay_',
  'pg_create_physical_replication_slot',
  'pg_create_logical_replication_slot',
  'pg_drop_replication_slot',
  'pg_copy_physical_replication_slot',
  'pg_copy_logical_replication_slot',
  'pg_logical_slot_',
]

/** Functions of those families that only read. */
const READ_EXCEPTIONS = new Set(['lo_get', 'pg_replication_origin_oid', 'pg_replication_origin_progress'])

/** Whether calling the function `name` (unqualified, as the parser resolved its case) has a side effect. */
export function isSideEffectFunction(name: string): boolean {
  if (READ_EXCEPTIONS.has(name)) return false
  return SIDE_EFFECT_FUNCTIONS.has(name) || SIDE_EFFECT_PREFIXES.some((prefix) => name.startsWith(prefix))
}

type Node = Record<string, unknown>

/** The first reason found anywhere in a query tree that it is no plain read, or undefined. */
function findEffect(value: unknown): string | undefined {
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = findEffect(item)
      if (found !== undefined) return found
    }
    return undefined
  }
  if (value === null || typeof value !== 'object') return undefined
  const node = value as Node
  for (const [key, child] of Object.entries(node)) {
    switch (key) {
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt':
        return key
      case 'intoClause':
        return 'SelectInto'
      case 'lockingClause':
        if (Array.isArray(child) && child.length > 0) return 'LockingClause'
        break
      case 'FuncCall': {
        const names = (child as { funcname?: Array<{ String?: { sval: string } }> }).funcname ?? []
        const name = names.at(-1)?.String?.sval
        if (name !== undefined && isSideEffectFunction(name)) return `function:${name}`
        break
      }
    }
    const found = findEffect(child)
    if (found !== undefined) return found
  }
  return undefined
}

interface DefElem {
  readonly defname: string
  readonly arg?: Node
}

function defElems(list: unknown): DefElem[] {
  if (!Array.isArray(list)) return []
  return list.map((item) => (item as { DefElem: DefElem }).DefElem).filter((item) => item !== undefined)
}

/** A boolean option's value: a bare name (`ANALYZE`) is true; `off`, `false` and `0` are false. */
function optionIsTrue(arg: Node | undefined): boolean {
  if (arg === undefined) return true
  // As defGetBoolean() reads it (libpg-query leaves zero values out of its JSON).
  if ('Boolean' in arg) return (arg.Boolean as { boolval?: boolean }).boolval === true
  if ('Integer' in arg) return (arg.Integer as { ival?: number }).ival !== undefined
  const value = (arg.String as { sval?: string } | undefined)?.sval?.toLowerCase()
  return value !== 'off' && value !== 'false'
}

function constValue(arg: unknown): string | undefined {
  const node = (arg as { A_Const?: Node } | undefined)?.A_Const
  if (node === undefined) return undefined
  if ('ival' in node) return String((node.ival as { ival?: number }).ival ?? 0)
  if ('sval' in node) return (node.sval as { sval: string }).sval
  return undefined
}

interface StatementVerdict {
  readonly kind: OracleClass
  readonly why: string
  readonly transaction: OracleVerdict['transaction'] | null
}

const READ: StatementVerdict = { kind: 'read', why: 'read', transaction: null }

function unsafe(why: string, transaction: OracleVerdict['transaction'] | null = null): StatementVerdict {
  return { kind: 'unsafe', why, transaction }
}

function judgeQuery(query: Node): StatementVerdict {
  const effect = findEffect(query)
  return effect === undefined ? READ : unsafe(effect)
}

function judgeTransaction(stmt: Node): StatementVerdict {
  const kind = stmt.kind as string
  switch (kind) {
    case 'TRANS_STMT_BEGIN':
    case 'TRANS_STMT_START': {
      let readOnly = false
      let readWrite = false
      let serializable = false
      for (const option of defElems(stmt.options)) {
        const value = constValue(option.arg)
        // A standby refuses to set READ WRITE even when a later READ ONLY overrides it.
        if (option.defname === 'transaction_read_only' && value === '1') readOnly = true
        else if (option.defname === 'transaction_read_only') readWrite = true
        if (option.defname === 'transaction_isolation') serializable = value === 'serializable'
      }
      if (readOnly && !readWrite && !serializable)
        return { kind: 'read', why: kind, transaction: 'begin-read-only' }
      return unsafe(kind, 'begin')
    }
    case 'TRANS_STMT_COMMIT':
    case 'TRANS_STMT_ROLLBACK':
      return unsafe(kind, stmt.chain === true ? null : 'end')
    case 'TRANS_STMT_PREPARE':
      return unsafe(kind, 'end')
    default:
      // Savepoints and two-phase COMMIT / ROLLBACK PREPARED leave the session's transaction as it is.
      return unsafe(kind)
  }
}

function judgeStatement(stmt: Node): StatementVerdict {
  const [type, body] = Object.entries(stmt)[0] as [string, Node]
  switch (type) {
    case 'SelectStmt':
      return judgeQuery(body)
    case 'VariableShowStmt':
      return READ
    case 'TransactionStmt':
      return judgeTransaction(body)
    case 'ExplainStmt': {
      const query = body.query as Node
      if ('ExecuteStmt' in query) return unsafe('ExplainExecute')
      // The last ANALYZE option wins, as in ParseExplainOptionList().
      const analyze = defElems(body.options).findLast((option) => option.defname === 'analyze')
      if (analyze === undefined || !optionIsTrue(analyze.arg)) return READ
      const inner = judgeStatement(query)
      return inner.kind === 'read' ? READ : unsafe(`ExplainAnalyze:${inner.why}`)
    }
    case 'CopyStmt': {
      if (body.is_from === true) return unsafe('CopyFrom')
      if (body.filename !== undefined || body.is_program === true) return unsafe('CopyToFile')
      return body.query === undefined ? READ : judgeStatement(body.query as Node)
    }
    default:
      return unsafe(type)
  }
}

let loaded: Promise<void> | undefined

/** Loads the parser (WebAssembly); call once before {@link judge}. */
export function loadOracle(): Promise<void> {
  loaded ??= loadModule()
  return loaded
}

/** Whether PostgreSQL's parser accepts the text. */
export function parses(sql: string): boolean {
  try {
    parseSync(sql)
    return true
  } catch {
    return false
  }
}

/**
 * Judges a whole text (possibly several statements): a read only if every statement is; the transaction field
 * is that of the last transaction statement. Throws the parser's error for text PostgreSQL cannot parse.
 */
export function judge(sql: string): OracleVerdict {
  const { stmts = [] } = parseSync(sql) as unknown as { stmts?: Array<{ stmt: Node }> }
  let kind: OracleClass = 'read'
  let why = 'read'
  let transaction: OracleVerdict['transaction'] | null = null
  let readOnlyOpen = false
  for (const { stmt } of stmts) {
    const verdict = judgeStatement(stmt)
    const inReadOnly = readOnlyOpen && 'TransactionStmt' in stmt
    if (verdict.transaction !== null) {
      transaction = verdict.transaction
      readOnlyOpen = verdict.transaction === 'begin-read-only'
    }
    if (verdict.kind === 'unsafe' && kind !== 'unsafe' && !inReadOnly) {
      kind = 'unsafe'
      why = verdict.why
    }
  }
  if (stmts.length === 0) return { kind: 'unsafe', why: 'empty', transaction: undefined }
  return { kind, why, transaction: transaction ?? undefined }
}

/** Statement texts of a script, split where PostgreSQL's parser says each statement starts and ends. */
export function splitStatements(sql: string): string[] {
  const { stmts = [] } = parseSync(sql) as unknown as {
    stmts?: Array<{ stmt_location?: number; stmt_len?: number }>
  }
  // Locations count UTF-8 bytes.
  const bytes = Buffer.from(sql, 'utf8')
  return stmts
    .map(({ stmt_location = 0, stmt_len }) =>
      bytes
        .subarray(
          stmt_location,
          stmt_len === undefined || stmt_len === 0 ? bytes.length : stmt_location + stmt_len,
        )
        .toString('utf8')
        .trim(),
    )
    .filter((text) => text.length > 0)
}
