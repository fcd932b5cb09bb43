import { describe, it } from 'vitest'
import { createClassifier } from '../src/classify/index.js'
import { checkRow, type Row } from './helpers/classification-row.js'

/*
 * Statements where the classifier once disagreed with PostgreSQL's parser or with a hot standby: lexical forms
 * of names and options, functions with effects on the server or the session, COPY directions, EXPLAIN option
 * values, transaction fields and hints in multi-statement texts.
 */

const classifier = createClassifier({ cacheSize: 0 })

function check(row: Row): void {
  checkRow(classifier, row)
}

describe('EXPLAIN option names and values, in every spelling', () => {
  it.each<Row>([
    ['EXPLAIN ("analyze") SELECT pg_advisory_lock(4242)', 'primary', 'explain-analyze-write'],
    ['EXPLAIN ("analyse") SELECT pg_advisory_lock(4242)', 'primary', 'explain-analyze-write'],
    ['EXPLAIN (U&"\\0061nalyze") DELETE FROM t', 'primary', 'explain-analyze-write'],
    [`EXPLAIN (U&"!0061nalyze" UESCAPE '!') DELETE FROM t`, 'primary', 'explain-analyze-write'],
    ['EXPLAIN ("analyze" true, format json) INSERT INTO t VALUES (1)', 'primary', 'explain-analyze-write'],
    ['EXPLAIN (format json, "analyze") UPDATE t SET x = 1', 'primary', 'explain-analyze-write'],
    ['EXPLAIN ("analyze") SELECT 1', 'replica', 'read'],
    // A quoted name is not folded: "ANALYZE" is an unknown option, and the statement fails wherever it runs.
    ['EXPLAIN ("ANALYZE") SELECT 1', 'replica', 'read'],
    ['EXPLAIN (ANALYZE off) DELETE FROM t', 'replica', 'read'],
    ['EXPLAIN (ANALYZE OFF) INSERT INTO t VALUES (1)', 'replica', 'read'],
    ['EXPLAIN (analyze false) UPDATE t SET x = 1', 'replica', 'read'],
    ["EXPLAIN (analyze 'off') DELETE FROM t", 'replica', 'read'],
    ["EXPLAIN (analyze E'off') DELETE FROM t", 'replica', 'read'],
    ['EXPLAIN (analyze "off") DELETE FROM t', 'replica', 'read'],
    ['EXPLAIN (analyze 0) DELETE FROM t', 'replica', 'read'],
    ['EXPLAIN ("analyze" off) DELETE FROM t', 'replica', 'read'],
    ['EXPLAIN (ANALYZE off, ANALYZE) DELETE FROM t', 'primary', 'explain-analyze-write'],
    ['EXPLAIN (ANALYZE, ANALYZE off) DELETE FROM t', 'replica', 'read'],
  ])('%s', (...row) => check(row))
})

describe('function names in every spelling', () => {
  it.each<Row>([
    ['SELECT U&"pg_advisory_lock"(4343)', 'primary', 'volatile-function:pg_advisory_lock'],
    [`SELECT U&"\\006Eextval"('s')`, 'primary', 'volatile-function:nextval'],
    [`SELECT U&"\\+00006Eextval"('s')`, 'primary', 'volatile-function:nextval'],
    [`SELECT U&"!0070g_advisory_lock" UESCAPE '!' (4444)`, 'primary', 'volatile-function:pg_advisory_lock'],
    [
      `SELECT U&"!0070g_advisory_lock" /* why */ UESCAPE '!'(4444)`,
      'primary',
      'volatile-function:pg_advisory_lock',
    ],
    [`SELECT u&"pg_catalog".U&"\\0073etval"('s', 1)`, 'primary', 'volatile-function:setval'],
    [`SELECT "pg_catalog"."pg_advisory_lock"(1)`, 'primary', 'volatile-function:pg_advisory_lock'],
    // UESCAPE changes the escape: `\` is a plain character then, so this spells no known function.
    [`SELECT U&"\\006Eextval" UESCAPE '!' ('s')`, 'replica', 'read'],
    [`SELECT U&"\\0041" FROM t`, 'replica', 'read'],
  ])('%s', (...row) => check(row))
})

describe('functions that act on the server or the session', () => {
  it.each([
    'setseed(0.5)',
    'pg_export_snapshot()',
    'pg_stat_reset()',
    "pg_stat_reset_shared('io')",
    'pg_stat_reset_single_table_counters(1)',
    'pg_stat_reset_backend_stats(1)',
    "brin_summarize_range('i', 0)",
    "brin_summarize_new_values('i')",
    "brin_desummarize_range('i', 0)",
    "gin_clean_pending_list('i')",
    "pg_import_system_collations('pg_catalog')",
    'pg_log_standby_snapshot()',
    "pg_restore_relation_stats('schemaname', 'public')",
    "pg_restore_attribute_stats('schemaname', 'public')",
    "pg_clear_relation_stats('public', 't')",
    "pg_clear_attribute_stats('public', 't', 'x', false)",
    "pg_replication_origin_create('o')",
    "pg_replication_origin_drop('o')",
    "pg_replication_origin_advance('o', '0/0')",
    "pg_replication_origin_session_setup('o')",
    'pg_replication_origin_session_reset()',
    "pg_replication_origin_xact_setup('0/0', now())",
    'pg_replication_origin_xact_reset()',
    'pg_replication_origin_session_progress(true)',
  ])('SELECT %s', (call) => {
    const name = call.slice(0, call.indexOf('('))
    check([`SELECT ${call}`, 'primary', `volatile-function:${name}`])
  })
})

describe('COPY directions', () => {
  it.each<Row>([
    ['COPY t TO STDOUT', 'replica', 'read'],
    ['COPY t TO STDIN', 'replica', 'read'],
    ['COPY (SELECT 1) TO STDIN', 'replica', 'read'],
    ['COPY t (a, b) TO STDIN WITH (FORMAT csv)', 'replica', 'read'],
    ['COPY t FROM STDIN', 'primary', 'write'],
    ["COPY t TO '/tmp/t.csv'", 'primary', 'copy-to-file'],
  ])('%s', (...row) => check(row))
})

describe('transaction field', () => {
  it.each<Row>([
    ["PREPARE TRANSACTION 'tx'", 'primary', 'transaction-control', 'end'],
    ["BEGIN; INSERT INTO t VALUES (1); PREPARE TRANSACTION 'tx'", 'primary', 'multi-statement-write', 'end'],
    ["COMMIT PREPARED 'tx'", 'primary', 'transaction-control'],
    ['PREPARE q AS SELECT 1', 'primary', 'session-state'],
  ])('%s', (...row) => check(row))
})

describe('hints apply to their own statement', () => {
  it.each<Row>([
    ['/* pgroute:replica */ SELECT 1; DELETE FROM t', 'primary', 'multi-statement-write'],
    ['/* pgroute:replica */ SELECT f(); SELECT g()', 'replica', 'hint:replica'],
    ['SELECT 1; /* pgroute:replica */ SELECT f()', 'replica', 'hint:replica'],
    ['/* pgroute:replica */ SELECT f(); /* pgroute:replica */ SELECT g()', 'replica', 'hint:replica'],
    ['SELECT f() /* pgroute:replica */; DELETE FROM t', 'primary', 'multi-statement-write'],
    ['SELECT 1; DELETE FROM t /* pgroute:replica */', 'replica', 'hint:replica'],
    ['/* pgroute:replica */ DELETE FROM t', 'replica', 'hint:replica'],
    ['SELECT nextval($1) -- pgroute:replica\n;', 'replica', 'hint:replica'],
    ['SELECT 1; -- pgroute:primary\nSELECT 2', 'primary', 'hint:primary'],
    ['/* pgroute:primary */ SELECT 1; SELECT 2', 'primary', 'hint:primary'],
  ])('%s', (...row) => check(row))
})
