import { describe, expect, it } from 'vitest'
import { createClassifier } from '../src/classify/index.js'
import { checkRow, type Row } from './helpers/classification-row.js'

const classifier = createClassifier({ cacheSize: 0 })

function check(row: Row): void {
  checkRow(classifier, row)
}

describe('reads', () => {
  it.each<Row>([
    ['SELECT 1', 'replica', 'read'],
    ['select * from users where id = $1', 'replica', 'read'],
    ['SeLeCt name FROM users', 'replica', 'read'],
    ['  \n\t SELECT 1', 'replica', 'read'],
    ['SELECT 1;', 'replica', 'read'],
    ['SELECT 1;;;', 'replica', 'read'],
    ['VALUES (1), (2)', 'replica', 'read'],
    ['TABLE users', 'replica', 'read'],
    ['SHOW search_path', 'replica', 'read'],
    ['SHOW ALL', 'replica', 'read'],
    ['WITH a AS (SELECT 1) SELECT * FROM a', 'replica', 'read'],
    [
      'WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT * FROM t',
      'replica',
      'read',
    ],
    [
      'WITH a AS MATERIALIZED (SELECT 1), b AS NOT MATERIALIZED (SELECT 2) SELECT * FROM a, b',
      'replica',
      'read',
    ],
    ['WITH a AS (WITH b AS (SELECT 1) SELECT * FROM b) SELECT * FROM a', 'replica', 'read'],
    ['(SELECT 1) UNION (SELECT 2)', 'replica', 'read'],
    ['((SELECT 1)) UNION ALL (SELECT 2) ORDER BY 1', 'replica', 'read'],
    ['(VALUES (1)) EXCEPT (TABLE t)', 'replica', 'read'],
    ['SELECT * FROM (SELECT * FROM t) AS s', 'replica', 'read'],
    ['SELECT count(*) FILTER (WHERE x > 1) OVER (PARTITION BY y) FROM t', 'replica', 'read'],
    ['SELECT now(), random(), gen_random_uuid(), clock_timestamp()', 'replica', 'read'],
    ['SELECT lo_get(42)', 'replica', 'read'],
    ['SELECT pg_last_wal_replay_lsn(), pg_is_in_recovery()', 'replica', 'read'],
    ['SELECT * FROM t FOR READ ONLY', 'replica', 'read'],
    ['SELECT substring(name FROM 1 FOR 3) FROM t', 'replica', 'read'],
    ['SELECT * FROM t WHERE x IN (SELECT y FROM u)', 'replica', 'read'],
    ['SELECT EXISTS (SELECT 1 FROM t)', 'replica', 'read'],
    ['SELECT $1::int, $2::text[]', 'replica', 'read'],
    ["SELECT '{1,2}'::int[] @> ARRAY[1]", 'replica', 'read'],
    ["SELECT x->>'a', x #> '{b}' FROM j", 'replica', 'read'],
    ['SELECT * FROM t ORDER BY 1 LIMIT 10 OFFSET 5', 'replica', 'read'],
    ['SELECT * FROM t FETCH FIRST 5 ROWS ONLY', 'replica', 'read'],
    ['SELECT * FROM t TABLESAMPLE SYSTEM (10)', 'replica', 'read'],
    ['SELECT * FROM t1 JOIN LATERAL (SELECT * FROM t2 WHERE t2.id = t1.id) s ON true', 'replica', 'read'],
    ['SELECT * FROM generate_series(1, 10) AS g(n)', 'replica', 'read'],
    ['SELECT * FROM t AS nextval(a, b)', 'replica', 'read'],
  ])('%s', (...row) => check(row))
})

describe('writes by statement', () => {
  it.each<Row>([
    ['INSERT INTO t VALUES (1)', 'primary', 'write'],
    ['insert into t (a) select a from u', 'primary', 'write'],
    ['UPDATE t SET a = 1', 'primary', 'write'],
    ['DELETE FROM t', 'primary', 'write'],
    ['MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE', 'primary', 'write'],
    ['TRUNCATE t', 'primary', 'write'],
    ['CREATE TABLE t (a int)', 'primary', 'write'],
    ['CREATE UNLOGGED TABLE t (a int)', 'primary', 'write'],
    ['CREATE TABLE t AS SELECT 1', 'primary', 'write'],
    ['CREATE INDEX CONCURRENTLY i ON t (a)', 'primary', 'write'],
    ['CREATE OR REPLACE VIEW v AS SELECT 1', 'primary', 'write'],
    ['CREATE MATERIALIZED VIEW mv AS SELECT 1', 'primary', 'write'],
    ['ALTER TABLE t ADD COLUMN b int', 'primary', 'write'],
    ['DROP TABLE t', 'primary', 'write'],
    ['GRANT SELECT ON t TO public', 'primary', 'write'],
    ['REVOKE SELECT ON t FROM public', 'primary', 'write'],
    ['VACUUM t', 'primary', 'write'],
    ['VACUUM (ANALYZE) t', 'primary', 'write'],
    ['ANALYZE t', 'primary', 'write'],
    ['ANALYSE t', 'primary', 'write'],
    ['CLUSTER t USING i', 'primary', 'write'],
    ['REINDEX TABLE t', 'primary', 'write'],
    ['REFRESH MATERIALIZED VIEW mv', 'primary', 'write'],
    ['LOCK TABLE t IN ACCESS SHARE MODE', 'primary', 'write'],
    ['CALL p(1)', 'primary', 'write'],
    ['DO $$ BEGIN PERFORM 1; END $$', 'primary', 'write'],
    ["COMMENT ON TABLE t IS 'x'", 'primary', 'write'],
    ["SECURITY LABEL ON TABLE t IS 'x'", 'primary', 'write'],
    ['CHECKPOINT', 'primary', 'write'],
    ['IMPORT FOREIGN SCHEMA s FROM SERVER f INTO l', 'primary', 'write'],
    ['REASSIGN OWNED BY a TO b', 'primary', 'write'],
    ['WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a', 'primary', 'write'],
    ['WITH a AS (SELECT 1) UPDATE t SET x = 1', 'primary', 'write'],
    ['WITH a AS (SELECT 1) DELETE FROM t', 'primary', 'write'],
    ['WITH a AS (SELECT 1) MERGE INTO t USING a ON true WHEN MATCHED THEN DELETE', 'primary', 'write'],
    [
      'WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) CYCLE n SET is_cycle USING path UPDATE u SET x = 1',
      'primary',
      'write',
    ],
    ['WITH "values" AS (SELECT 1) UPDATE t SET x = 1', 'primary', 'write'],
    ['FROBNICATE t', 'primary', 'unknown'],
    ['42', 'primary', 'unknown'],
    ['()', 'primary', 'unknown'],
  ])('%s', (...row) => check(row))
})

describe('writes hidden in queries', () => {
  it.each<Row>([
    ['SELECT * FROM t FOR UPDATE', 'primary', 'locking-read'],
    ['SELECT * FROM t FOR NO KEY UPDATE', 'primary', 'locking-read'],
    ['SELECT * FROM t FOR SHARE', 'primary', 'locking-read'],
    ['SELECT * FROM t FOR KEY SHARE', 'primary', 'locking-read'],
    ['select * from t for update of t skip locked', 'primary', 'locking-read'],
    ['SELECT * FROM t FOR UPDATE NOWAIT', 'primary', 'locking-read'],
    ['SELECT * FROM t FOR SHARE OF t, u', 'primary', 'locking-read'],
    ['SELECT * FROM (SELECT * FROM t FOR UPDATE) s', 'primary', 'locking-read'],
    ['WITH a AS (SELECT * FROM t FOR UPDATE) SELECT * FROM a', 'primary', 'locking-read'],
    ['SELECT * FROM t WHERE id IN (SELECT id FROM u FOR KEY SHARE)', 'primary', 'locking-read'],
    ['WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', 'primary', 'writable-cte'],
    ['WITH i AS (INSERT INTO t VALUES (1) RETURNING id) SELECT id FROM i', 'primary', 'writable-cte'],
    ['WITH u AS (UPDATE t SET x = 1 RETURNING *) SELECT * FROM u', 'primary', 'writable-cte'],
    ['WITH u AS (UPDATE ONLY t SET x = 1 RETURNING *) SELECT * FROM u', 'primary', 'writable-cte'],
    ['WITH u AS (UPDATE "T" SET x = 1 RETURNING *) SELECT * FROM u', 'primary', 'writable-cte'],
    [
      'WITH m AS (MERGE INTO t USING u ON true WHEN MATCHED THEN DELETE RETURNING *) SELECT 1',
      'primary',
      'writable-cte',
    ],
    ['WITH a AS (SELECT 1), d AS (DELETE FROM t) SELECT * FROM a', 'primary', 'writable-cte'],
    ['WITH a AS MATERIALIZED (DELETE FROM t RETURNING *) SELECT * FROM a', 'primary', 'writable-cte'],
    ['WITH a AS NOT MATERIALIZED (DELETE FROM t RETURNING *) SELECT * FROM a', 'primary', 'writable-cte'],
    ['WITH a(x) AS (DELETE FROM t RETURNING id) SELECT * FROM a', 'primary', 'writable-cte'],
    [
      'WITH a AS (WITH b AS (SELECT 1) UPDATE t SET x = 1 RETURNING *) SELECT * FROM a',
      'primary',
      'writable-cte',
    ],
    [
      'WITH a AS (WITH b AS (WITH c AS (DELETE FROM t RETURNING *) SELECT * FROM c) SELECT * FROM b) SELECT * FROM a',
      'primary',
      'writable-cte',
    ],
    ['with d as (delete from t returning *) select * from d', 'primary', 'writable-cte'],
    ['SELECT * INTO new_t FROM t', 'primary', 'select-into'],
    ['SELECT a, b INTO TEMP new_t FROM t', 'primary', 'select-into'],
    ['SELECT * INTO UNLOGGED TABLE new_t FROM t', 'primary', 'select-into'],
    ['WITH a AS (SELECT 1) SELECT * INTO new_t FROM a', 'primary', 'select-into'],
    ['SELECT 1 INTO STRICT', 'primary', 'select-into'],
    ['SELECT insert INTO new_t FROM t', 'primary', 'select-into'],
  ])('%s', (...row) => check(row))
})

describe('keywords that are only names', () => {
  it.each<Row>([
    ['SELECT "update", "delete", "insert" FROM t', 'replica', 'read'],
    ['SELECT t.update, t.into, t.for FROM t', 'replica', 'read'],
    ['SELECT read, write, delete FROM permissions', 'replica', 'read'],
    ['SELECT update FROM t', 'replica', 'read'],
    ['SELECT x AS update FROM t', 'replica', 'read'],
    ['SELECT (update) FROM t', 'replica', 'read'],
    ['SELECT (update IS NULL) FROM t', 'replica', 'read'],
    ['SELECT count(*) update FROM t', 'replica', 'read'],
    ['SELECT * FROM (SELECT 1) update WHERE true', 'replica', 'read'],
    ['SELECT * FROM (SELECT 1) delete JOIN u ON true', 'replica', 'read'],
    ['SELECT (delete) FROM t', 'replica', 'read'],
    ['SELECT * FROM t WHERE "for" = \'update\'', 'replica', 'read'],
    ['SELECT share, key FROM t', 'replica', 'read'],
    ['SELECT into_date FROM t', 'replica', 'read'],
    ['SELECT insert_count, updated_at, for_update FROM t', 'replica', 'read'],
    ['SELECT * FROM "select" AS "into"', 'replica', 'read'],
    ['SELECT nextval FROM t', 'replica', 'read'],
    ['SELECT t.nextval, "setval" FROM t', 'replica', 'read'],
  ])('%s', (...row) => check(row))
})

describe('lexing: write keywords inside literals and comments', () => {
  it.each<Row>([
    ["SELECT 'FOR UPDATE'", 'replica', 'read'],
    ["SELECT 'x' FROM t WHERE note = 'INSERT INTO t; DELETE FROM t'", 'replica', 'read'],
    ["SELECT 'it''s; DELETE FROM t'", 'replica', 'read'],
    ["SELECT E'\\'; DELETE FROM t; \\''", 'replica', 'read'],
    ["SELECT E'\\\\', 'x'", 'replica', 'read'],
    ["SELECT E'\\\\'; DELETE FROM t", 'primary', 'multi-statement-write'],
    // standard_conforming_strings: a backslash does not escape in a plain literal
    ["SELECT 'a\\'; DELETE FROM t", 'primary', 'multi-statement-write'],
    ['SELECT $$ insert into t values (1) $$', 'replica', 'read'],
    ['SELECT $tag$ $ ; DELETE FROM t; $$ $tag$', 'replica', 'read'],
    ['SELECT $a$ $b$ FOR UPDATE $b$ $a$', 'replica', 'read'],
    ['SELECT $fn$nextval(1)$fn$', 'replica', 'read'],
    ['SELECT "INTO", "FOR UPDATE" FROM t', 'replica', 'read'],
    ['SELECT "a""; DELETE FROM t; ""b" FROM t', 'replica', 'read'],
    ['SELECT 1 /* FOR UPDATE */', 'replica', 'read'],
    ['SELECT 1 /* nested /* ; DELETE FROM t; */ still comment */', 'replica', 'read'],
    ['SELECT 1 -- ; DELETE FROM t', 'replica', 'read'],
    ['SELECT 1 -- x\n; DELETE FROM t', 'primary', 'multi-statement-write'],
    ["SELECT U&'d\\0061t; DELETE' FROM t", 'replica', 'read'],
    ["SELECT B'1010', X'ff', N'nextval('", 'replica', 'read'],
    ['SELECT nextval_count FROM t', 'replica', 'read'],
    ["SELECT 'nextval(1)'", 'replica', 'read'],
    ['SELECT 1 /* nextval(1) */', 'replica', 'read'],
    ['/* leading */ -- line\n SELECT 1', 'replica', 'read'],
    ['/* a /* b */ c */ (SELECT 1)', 'replica', 'read'],
  ])('%s', (...row) => check(row))
})

describe('unparseable and empty text', () => {
  it.each<Row>([
    ['', 'primary', 'empty'],
    ['   \n\t ', 'primary', 'empty'],
    [';', 'primary', 'empty'],
    [' ; ;', 'primary', 'empty'],
    ['-- only a comment', 'primary', 'empty'],
    ['/* only */ /* comments */', 'primary', 'empty'],
    ["SELECT 'unterminated", 'primary', 'unparseable'],
    ['SELECT "unterminated', 'primary', 'unparseable'],
    ['SELECT $$unterminated', 'primary', 'unparseable'],
    ['SELECT 1 /* unterminated', 'primary', 'unparseable'],
    ['SELECT (1', 'primary', 'unparseable'],
    ['SELECT 1)', 'primary', 'unparseable'],
    ['SELECT (1; SELECT 2', 'primary', 'unparseable'],
    ['BEGIN; SELECT (', 'primary', 'unparseable'],
  ])('%s', (...row) => check(row))
})

describe('EXPLAIN', () => {
  it.each<Row>([
    ['EXPLAIN SELECT 1', 'replica', 'read'],
    ['EXPLAIN DELETE FROM t', 'replica', 'read'],
    ['EXPLAIN INSERT INTO t VALUES (1)', 'replica', 'read'],
    ['EXPLAIN SELECT * FROM t FOR UPDATE', 'replica', 'read'],
    ["EXPLAIN SELECT nextval('s')", 'replica', 'read'],
    ['EXPLAIN VERBOSE SELECT 1', 'replica', 'read'],
    ['EXPLAIN ANALYZE SELECT 1', 'replica', 'read'],
    ['EXPLAIN ANALYSE VERBOSE SELECT 1', 'replica', 'read'],
    ['EXPLAIN ANALYZE DELETE FROM t', 'primary', 'explain-analyze-write'],
    ['explain analyze update t set x = 1', 'primary', 'explain-analyze-write'],
    ['EXPLAIN ANALYZE VERBOSE INSERT INTO t VALUES (1)', 'primary', 'explain-analyze-write'],
    ['EXPLAIN ANALYZE SELECT * FROM t FOR UPDATE', 'primary', 'explain-analyze-write'],
    ["EXPLAIN ANALYZE SELECT nextval('s')", 'primary', 'explain-analyze-write'],
    [
      'EXPLAIN ANALYZE WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d',
      'primary',
      'explain-analyze-write',
    ],
    ['EXPLAIN ANALYZE WITH a AS (SELECT 1) UPDATE t SET x = 1', 'primary', 'explain-analyze-write'],
    ['EXPLAIN ANALYZE SELECT * INTO x FROM t', 'primary', 'explain-analyze-write'],
    ['EXPLAIN ANALYZE CREATE TABLE x AS SELECT 1', 'primary', 'explain-analyze-write'],
    ['EXPLAIN ANALYZE (SELECT 1)', 'replica', 'read'],
    ['EXPLAIN (ANALYZE, BUFFERS) DELETE FROM t', 'primary', 'explain-analyze-write'],
    ['EXPLAIN (ANALYZE) DELETE FROM t', 'primary', 'explain-analyze-write'],
    ['EXPLAIN (ANALYZE true) DELETE FROM t', 'primary', 'explain-analyze-write'],
    ['EXPLAIN (ANALYZE on) DELETE FROM t', 'primary', 'explain-analyze-write'],
    ['EXPLAIN (ANALYZE 1) DELETE FROM t', 'primary', 'explain-analyze-write'],
    ["EXPLAIN (ANALYZE 'true') DELETE FROM t", 'primary', 'explain-analyze-write'],
    ['EXPLAIN (FORMAT JSON, ANALYZE) DELETE FROM t', 'primary', 'explain-analyze-write'],
    ['EXPLAIN (ANALYZE false) DELETE FROM t', 'replica', 'read'],
    ['EXPLAIN (ANALYZE FALSE, BUFFERS) DELETE FROM t', 'replica', 'read'],
    ['EXPLAIN (ANALYZE off) DELETE FROM t', 'replica', 'read'],
    ['EXPLAIN (ANALYZE 0) DELETE FROM t', 'replica', 'read'],
    ["EXPLAIN (ANALYZE 'off') DELETE FROM t", 'replica', 'read'],
    ['EXPLAIN (ANALYZE false, ANALYZE) DELETE FROM t', 'primary', 'explain-analyze-write'],
    ['EXPLAIN (BUFFERS, ANALYZE false) DELETE FROM t', 'replica', 'read'],
    ['EXPLAIN (BUFFERS) DELETE FROM t', 'replica', 'read'],
    ['EXPLAIN (FORMAT JSON) SELECT 1', 'replica', 'read'],
    ['EXPLAIN (GENERIC_PLAN) SELECT * FROM t WHERE id = $1', 'replica', 'read'],
    ['EXPLAIN (ANALYZE) SELECT 1', 'replica', 'read'],
    ['EXPLAIN EXECUTE p(1)', 'primary', 'session-state'],
    ['EXPLAIN ANALYZE EXECUTE p(1)', 'primary', 'session-state'],
    ['EXPLAIN', 'primary', 'unknown'],
    ['EXPLAIN (ANALYZE)', 'primary', 'unknown'],
  ])('%s', (...row) => check(row))
})

describe('COPY', () => {
  it.each<Row>([
    ['COPY t TO STDOUT', 'replica', 'read'],
    ['COPY t (a, b) TO STDOUT WITH (FORMAT csv)', 'replica', 'read'],
    ['COPY (SELECT * FROM t) TO STDOUT', 'replica', 'read'],
    ['copy (select 1) to stdout (format binary)', 'replica', 'read'],
    ['COPY ((SELECT 1) UNION (SELECT 2)) TO STDOUT', 'replica', 'read'],
    ['COPY (WITH a AS (SELECT 1) SELECT * FROM a) TO STDOUT', 'replica', 'read'],
    ['COPY t FROM STDIN', 'primary', 'write'],
    ["COPY t (a, b) FROM '/tmp/x.csv' WITH (FORMAT csv)", 'primary', 'write'],
    ["COPY t TO '/tmp/x.csv'", 'primary', 'copy-to-file'],
    ["COPY t TO PROGRAM 'gzip > /tmp/x'", 'primary', 'copy-to-file'],
    ["COPY (SELECT 1) TO '/tmp/x'", 'primary', 'copy-to-file'],
    ['COPY (INSERT INTO t VALUES (1) RETURNING *) TO STDOUT', 'primary', 'write'],
    ['COPY (SELECT * FROM t FOR UPDATE) TO STDOUT', 'primary', 'locking-read'],
    ["COPY (SELECT nextval('s')) TO STDOUT", 'primary', 'volatile-function:nextval'],
    ['COPY (WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d) TO STDOUT', 'primary', 'writable-cte'],
    ['COPY t', 'primary', 'unknown'],
    ['COPY t TO', 'primary', 'unknown'],
  ])('%s', (...row) => check(row))
})

describe('session state', () => {
  it.each<Row>([
    ["SET search_path = 'x'", 'primary', 'session-state'],
    ['SET LOCAL statement_timeout = 0', 'primary', 'session-state'],
    ['SET SESSION AUTHORIZATION DEFAULT', 'primary', 'session-state'],
    ['SET TRANSACTION READ ONLY', 'primary', 'session-state'],
    ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'primary', 'session-state'],
    ['SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY', 'primary', 'session-state'],
    ['RESET ALL', 'primary', 'session-state'],
    ['DISCARD ALL', 'primary', 'session-state'],
    ['PREPARE p AS SELECT 1', 'primary', 'session-state'],
    ['PREPARE p(int) AS SELECT $1', 'primary', 'session-state'],
    ['EXECUTE p(1)', 'primary', 'session-state'],
    ['DEALLOCATE ALL', 'primary', 'session-state'],
    ['LISTEN chan', 'primary', 'session-state'],
    ['UNLISTEN *', 'primary', 'session-state'],
    ["NOTIFY chan, 'x'", 'primary', 'session-state'],
    ["LOAD 'auto_explain'", 'primary', 'session-state'],
    ['DECLARE c CURSOR FOR SELECT 1', 'primary', 'session-state'],
    ['DECLARE c CURSOR WITH HOLD FOR SELECT * FROM t', 'primary', 'session-state'],
    ['FETCH 10 FROM c', 'primary', 'session-state'],
    ['MOVE NEXT IN c', 'primary', 'session-state'],
    ['CLOSE c', 'primary', 'session-state'],
    ['CREATE TEMP TABLE x (a int)', 'primary', 'session-state'],
    ['CREATE TEMPORARY TABLE x AS SELECT 1', 'primary', 'session-state'],
    ['CREATE LOCAL TEMP TABLE x (a int)', 'primary', 'session-state'],
    ['CREATE GLOBAL TEMPORARY TABLE x (a int)', 'primary', 'session-state'],
    ['CREATE OR REPLACE TEMP VIEW v AS SELECT 1', 'primary', 'session-state'],
    ['CREATE TEMP SEQUENCE s', 'primary', 'session-state'],
  ])('%s', (...row) => check(row))
})

describe('transaction control', () => {
  it.each<Row>([
    ['BEGIN', 'primary', 'transaction-begin', 'begin'],
    ['begin;', 'primary', 'transaction-begin', 'begin'],
    ['BEGIN WORK', 'primary', 'transaction-begin', 'begin'],
    ['BEGIN TRANSACTION', 'primary', 'transaction-begin', 'begin'],
    ['START TRANSACTION', 'primary', 'transaction-begin', 'begin'],
    ['BEGIN READ WRITE', 'primary', 'transaction-begin', 'begin'],
    ['BEGIN ISOLATION LEVEL REPEATABLE READ', 'primary', 'transaction-begin', 'begin'],
    ['BEGIN ISOLATION LEVEL READ COMMITTED', 'primary', 'transaction-begin', 'begin'],
    ['BEGIN READ ONLY', 'replica', 'transaction-begin-read-only', 'begin-read-only'],
    ['begin read only', 'replica', 'transaction-begin-read-only', 'begin-read-only'],
    ['BEGIN TRANSACTION READ ONLY', 'replica', 'transaction-begin-read-only', 'begin-read-only'],
    ['START TRANSACTION READ ONLY', 'replica', 'transaction-begin-read-only', 'begin-read-only'],
    [
      'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY',
      'replica',
      'transaction-begin-read-only',
      'begin-read-only',
    ],
    [
      'BEGIN READ ONLY ISOLATION LEVEL READ COMMITTED',
      'replica',
      'transaction-begin-read-only',
      'begin-read-only',
    ],
    ['BEGIN READ ONLY, READ WRITE', 'primary', 'transaction-begin', 'begin'],
    // A standby refuses to set READ WRITE even when a later mode sets READ ONLY again.
    ['BEGIN READ WRITE, READ ONLY', 'primary', 'transaction-begin', 'begin'],
    ['BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE', 'primary', 'serializable', 'begin'],
    ['BEGIN ISOLATION LEVEL SERIALIZABLE', 'primary', 'transaction-begin', 'begin'],
    ['COMMIT', 'primary', 'transaction-end', 'end'],
    ['COMMIT WORK', 'primary', 'transaction-end', 'end'],
    ['END', 'primary', 'transaction-end', 'end'],
    ['END TRANSACTION', 'primary', 'transaction-end', 'end'],
    ['ROLLBACK', 'primary', 'transaction-end', 'end'],
    ['ABORT', 'primary', 'transaction-end', 'end'],
    ['COMMIT AND NO CHAIN', 'primary', 'transaction-end', 'end'],
    ['COMMIT AND CHAIN', 'primary', 'transaction-control'],
    ['ROLLBACK AND CHAIN', 'primary', 'transaction-control'],
    ['SAVEPOINT a', 'primary', 'transaction-control'],
    ['RELEASE SAVEPOINT a', 'primary', 'transaction-control'],
    ['RELEASE a', 'primary', 'transaction-control'],
    ['ROLLBACK TO SAVEPOINT a', 'primary', 'transaction-control'],
    ['ROLLBACK TO a', 'primary', 'transaction-control'],
    ['ROLLBACK WORK TO SAVEPOINT a', 'primary', 'transaction-control'],
    ["PREPARE TRANSACTION 'gid'", 'primary', 'transaction-control', 'end'],
    ["COMMIT PREPARED 'gid'", 'primary', 'transaction-control'],
    ["ROLLBACK PREPARED 'gid'", 'primary', 'transaction-control'],
  ])('%s', (...row) => check(row))
})

describe('multi-statement texts', () => {
  it.each<Row>([
    ['SELECT 1; SELECT 2', 'replica', 'read'],
    ['SELECT 1; SHOW x; VALUES (1); TABLE t', 'replica', 'read'],
    ['SELECT 1; DELETE FROM t', 'primary', 'multi-statement-write'],
    ['DELETE FROM t; SELECT 1', 'primary', 'multi-statement-write'],
    ['SELECT 1; SELECT * FROM t FOR UPDATE', 'primary', 'multi-statement-write'],
    ['SET x = 1; SELECT 1', 'primary', 'multi-statement-write'],
    ['BEGIN; INSERT INTO t VALUES (1); COMMIT', 'primary', 'multi-statement-write', 'end'],
    ['BEGIN; SELECT 1', 'primary', 'multi-statement-write', 'begin'],
    ['COMMIT; BEGIN', 'primary', 'multi-statement-write', 'begin'],
    ['BEGIN READ ONLY; SELECT 1', 'replica', 'read', 'begin-read-only'],
    ['BEGIN READ ONLY; SELECT 1; COMMIT', 'replica', 'read', 'end'],
    ['BEGIN READ ONLY; SAVEPOINT a; SELECT 1; ROLLBACK TO a; RELEASE a; COMMIT', 'replica', 'read', 'end'],
    ['BEGIN READ ONLY; SELECT 1; COMMIT; COMMIT', 'primary', 'multi-statement-write', 'end'],
    ['BEGIN READ ONLY; INSERT INTO t VALUES (1)', 'primary', 'multi-statement-write', 'begin-read-only'],
    ["BEGIN READ ONLY; PREPARE TRANSACTION 'x'", 'primary', 'multi-statement-write', 'end'],
    ['BEGIN; ROLLBACK TO a', 'primary', 'multi-statement-write', 'begin'],
    ['SELECT 1; COMMIT AND CHAIN', 'primary', 'multi-statement-write'],
    [
      'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 1 END; END; SELECT 1',
      'primary',
      'multi-statement-write',
    ],
    ['CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END', 'primary', 'write'],
    [
      'CREATE PROCEDURE p() BEGIN ATOMIC INSERT INTO t VALUES (1); END; END',
      'primary',
      'multi-statement-write',
      'end',
    ],
    [
      'CREATE RULE r AS ON INSERT TO t DO INSTEAD (INSERT INTO u VALUES (1); INSERT INTO v VALUES (2))',
      'primary',
      'write',
    ],
  ])('%s', (...row) => check(row))
})

describe('routing hints', () => {
  it.each<Row>([
    ['/* pgroute:primary */ SELECT 1', 'primary', 'hint:primary'],
    ['SELECT 1 /* pgroute:primary */', 'primary', 'hint:primary'],
    ['SELECT 1 -- pgroute:primary', 'primary', 'hint:primary'],
    ['/* pgroute:replica */ INSERT INTO t VALUES (1)', 'replica', 'hint:replica'],
    ['/* pgroute:replica */ SELECT * FROM t FOR UPDATE', 'replica', 'hint:replica'],
    ['/* pgroute:replica */ /* pgroute:primary */ SELECT 1', 'primary', 'hint:primary'],
    ['/* pgroute:primary */ BEGIN', 'primary', 'hint:primary', 'begin'],
    ['/* pgroute:replica */ BEGIN', 'replica', 'hint:replica', 'begin'],
    ['/* pgroute:replica */ SELECT (', 'replica', 'hint:replica'],
    ["SELECT '/* pgroute:primary */'", 'replica', 'read'],
    ['SELECT "-- pgroute:primary"', 'replica', 'read'],
    ['SELECT $$/* pgroute:primary */$$', 'replica', 'read'],
    ['/* pgroute:primaryish */ SELECT 1', 'replica', 'read'],
    ['/* app:checkout pgroute:primary */ SELECT 1', 'replica', 'read'],
  ])('%s', (...row) => check(row))
})

describe('write functions', () => {
  it.each<Row>([
    ["SELECT nextval('s')", 'primary', 'volatile-function:nextval'],
    ["SELECT NEXTVAL('s')", 'primary', 'volatile-function:nextval'],
    ["SELECT nextval ('s')", 'primary', 'volatile-function:nextval'],
    ["SELECT nextval /* c */ ('s')", 'primary', 'volatile-function:nextval'],
    ["SELECT pg_catalog.nextval('s')", 'primary', 'volatile-function:nextval'],
    ['SELECT "pg_catalog"."nextval"(\'s\')', 'primary', 'volatile-function:nextval'],
    ["SELECT setval('s', 1)", 'primary', 'volatile-function:setval'],
    ["SELECT currval('s')", 'primary', 'volatile-function:currval'],
    ['SELECT lastval()', 'primary', 'volatile-function:lastval'],
    ['SELECT pg_advisory_lock(1)', 'primary', 'volatile-function:pg_advisory_lock'],
    [
      'SELECT pg_try_advisory_xact_lock_shared(1, 2)',
      'primary',
      'volatile-function:pg_try_advisory_xact_lock_shared',
    ],
    ['SELECT pg_advisory_unlock_all()', 'primary', 'volatile-function:pg_advisory_unlock_all'],
    ['SELECT txid_current()', 'primary', 'volatile-function:txid_current'],
    ['SELECT pg_current_xact_id()', 'primary', 'volatile-function:pg_current_xact_id'],
    // A hot standby runs it and answers NULL, as anywhere outside a writing transaction.
    ['SELECT pg_current_xact_id_if_assigned()', 'replica', 'read'],
    ["SELECT pg_notify('c', 'x')", 'primary', 'volatile-function:pg_notify'],
    ['SELECT lo_create(0)', 'primary', 'volatile-function:lo_create'],
    ["SELECT lo_import('/x')", 'primary', 'volatile-function:lo_import'],
    ['SELECT lo_unlink(1)', 'primary', 'volatile-function:lo_unlink'],
    ["SELECT lo_from_bytea(0, 'x')", 'primary', 'volatile-function:lo_from_bytea'],
    ["SELECT set_config('a.b', 'c', false)", 'primary', 'volatile-function:set_config'],
    [
      "SELECT pg_create_physical_replication_slot('s')",
      'primary',
      'volatile-function:pg_create_physical_replication_slot',
    ],
    ["SELECT pg_drop_replication_slot('s')", 'primary', 'volatile-function:pg_drop_replication_slot'],
    ['SELECT pg_switch_wal()', 'primary', 'volatile-function:pg_switch_wal'],
    ['SELECT pg_current_wal_lsn()', 'primary', 'volatile-function:pg_current_wal_lsn'],
    ['SELECT pg_reload_conf()', 'primary', 'volatile-function:pg_reload_conf'],
    ['SELECT pg_terminate_backend(1)', 'primary', 'volatile-function:pg_terminate_backend'],
    ["SELECT dblink_exec('c', 'DELETE FROM t')", 'primary', 'volatile-function:dblink_exec'],
    ["SELECT * FROM t WHERE id = nextval('s')", 'primary', 'volatile-function:nextval'],
    ["SELECT (SELECT nextval('s'))", 'primary', 'volatile-function:nextval'],
    ["WITH a AS (SELECT nextval('s')) SELECT * FROM a", 'primary', 'volatile-function:nextval'],
    ["VALUES (nextval('s'))", 'primary', 'volatile-function:nextval'],
    ['SELECT * FROM lo_open(1, 2)', 'primary', 'volatile-function:lo_open'],
    [
      "SELECT 1 WHERE pg_try_advisory_lock(hashtext('x'))",
      'primary',
      'volatile-function:pg_try_advisory_lock',
    ],
    ['SELECT my_schema.pg_advisory_lock(1)', 'primary', 'volatile-function:pg_advisory_lock'],
  ])('%s', (...row) => check(row))

  const custom = createClassifier({
    cacheSize: 0,
    writeFunctions: ['app_write', 'audit.log_access', '"Mixed"'],
  })

  it.each<[string, 'primary' | 'replica', string]>([
    ['SELECT app_write(1)', 'primary', 'volatile-function:app_write'],
    ['SELECT APP_WRITE(1)', 'primary', 'volatile-function:app_write'],
    ['SELECT public.app_write(1)', 'primary', 'volatile-function:app_write'],
    ['SELECT "app_write"(1)', 'primary', 'volatile-function:app_write'],
    ['SELECT * FROM app_write(1)', 'primary', 'volatile-function:app_write'],
    ['SELECT audit.log_access(1)', 'primary', 'volatile-function:audit.log_access'],
    ['SELECT "audit"."log_access"(1)', 'primary', 'volatile-function:audit.log_access'],
    ['SELECT log_access(1)', 'primary', 'volatile-function:audit.log_access'],
    ['SELECT other.log_access(1)', 'replica', 'read'],
    ['SELECT mixed(1)', 'primary', 'volatile-function:mixed'],
    ['SELECT app_write FROM t', 'replica', 'read'],
    ['SELECT t.app_write FROM t', 'replica', 'read'],
    ["SELECT 'app_write(1)'", 'replica', 'read'],
    ['SELECT app_writer(1)', 'replica', 'read'],
    ["SELECT nextval('s')", 'primary', 'volatile-function:nextval'],
  ])('custom: %s', (sql, target, reason) => {
    expect(custom.classify(sql)).toEqual({ target, reason })
  })

  it('does not know user functions that were not listed', () => {
    expect(classifier.classify('SELECT app_write(1)')).toEqual({ target: 'replica', reason: 'read' })
  })
})

describe('results', () => {
  it('are frozen', () => {
    const result = classifier.classify('SELECT 1')
    expect(Object.isFrozen(result)).toBe(true)
  })

  it('have no transaction key unless there is transaction control', () => {
    expect('transaction' in classifier.classify('SELECT 1')).toBe(false)
    expect('transaction' in classifier.classify('SAVEPOINT a')).toBe(false)
  })

  it('do not depend on earlier texts', () => {
    classifier.classify('BEGIN READ ONLY; SELECT (')
    expect(classifier.classify('COMMIT')).toEqual({
      target: 'primary',
      reason: 'transaction-end',
      transaction: 'end',
    })
    classifier.classify("SELECT 'x")
    expect(classifier.classify('SELECT 1')).toEqual({ target: 'replica', reason: 'read' })
    classifier.classify('/* pgroute:primary */')
    expect(classifier.classify('SELECT 1')).toEqual({ target: 'replica', reason: 'read' })
  })
})

describe('robustness', () => {
  const fragments = [
    'SELECT',
    'select',
    'WITH',
    'x',
    'AS',
    '(',
    ')',
    ';',
    ',',
    '.',
    "'",
    "''",
    'E',
    "E'\\'",
    '"',
    '""',
    '$$',
    '$t$',
    '$1',
    '--',
    '\n',
    '/*',
    '*/',
    'FOR',
    'UPDATE',
    'INSERT',
    'INTO',
    'DELETE',
    'FROM',
    'EXPLAIN',
    'ANALYZE',
    'COPY',
    'TO',
    'STDOUT',
    'BEGIN',
    'READ',
    'ONLY',
    'COMMIT',
    'nextval',
    'CREATE',
    'ATOMIC',
    'END',
    'CASE',
    'U&',
    '::',
    ' ',
    'pgroute:primary',
    'é',
    '\u0000',
    '\uFEFF',
    '\uD800',
  ]

  it('never throws and always answers a target and reason, for any text', () => {
    let seed = 42
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff
      return seed
    }
    for (let i = 0; i < 5000; i++) {
      const parts: string[] = []
      for (let n = random() % 25; n > 0; n--) parts.push(fragments[random() % fragments.length]!)
      const sql = parts.join(random() % 2 === 0 ? ' ' : '')
      const result = classifier.classify(sql)
      expect(['primary', 'replica']).toContain(result.target)
      expect(result.reason).toMatch(/^[a-z:_.-]+$/)
    }
  })

  it('classifies a megabyte of text in one linear pass', () => {
    const values = Array.from({ length: 40_000 }, (_, i) => `(${i}, 'name ${i}', $$x$$)`).join(', ')
    const sql = `INSERT INTO t (a, b, c) VALUES ${values}`
    expect(sql.length).toBeGreaterThan(1_000_000)
    expect(classifier.classify(sql)).toEqual({ target: 'primary', reason: 'write' })
    expect(classifier.classify(`SELECT * FROM (VALUES ${values}) v`)).toEqual({
      target: 'replica',
      reason: 'read',
    })
    const quotes = `SELECT ${"'".repeat(200_001)}`
    expect(classifier.classify(quotes).reason).toBe('unparseable')
  })
})
