import { describe, it } from 'vitest'
import { createClassifier } from '../src/classify/index.js'
import { checkRow, type Row } from './helpers/classification-row.js'

/*
 * The classes of issue #22, each a statement a hot standby judged: continued and escaped literals, keywords used
 * as names, data-modifying statements only where the grammar starts one, SQL given to functions as text, hints
 * outside their statement, EXPLAIN ANALYZE switched off in every spelling, write-function names used as names.
 */

const classifier = createClassifier({ cacheSize: 0 })

function check(row: Row): void {
  checkRow(classifier, row)
}

describe('literals continued on the next line, in the mode of their first segment', () => {
  it.each<Row>([
    // The second segment takes escapes too: \' is a quote in it, so the call after it is code.
    [`SELECT E'a'\n'\\'x', nextval('s') -- '`, 'primary', 'volatile-function:nextval'],
    [`SELECT E'a'\r\n'\\'x', nextval('s') -- '`, 'primary', 'volatile-function:nextval'],
    [`SELECT E'a' -- c\n'\\'x', nextval('s') -- '`, 'primary', 'volatile-function:nextval'],
    [`SELECT E'a'\n'\\' , nextval(''s'') -- '`, 'replica', 'read'],
    [`DELETE FROM t WHERE a = E'a'\n'\\' /* pgroute:replica */ '`, 'primary', 'write'],
    [`SELECT 'a'\n'b', nextval('s')`, 'primary', 'volatile-function:nextval'],
    // No continuation on the same line, or after a block comment: the server rejects those texts.
    [`SELECT E'a' '\\'x', nextval('s') -- '`, 'primary', 'volatile-function:nextval'],
    [`SELECT E'a' /* c */\n'\\'x', nextval('s') -- '`, 'primary', 'volatile-function:nextval'],
    [`SELECT U&'a'\n'b' UESCAPE '!', 1`, 'replica', 'read'],
  ])('%j', (...row) => check(row))
})

describe('plain literals with a backslash, read with standard_conforming_strings on and off', () => {
  it.each<Row>([
    [`SELECT 'a\\'`, 'replica', 'read'],
    [`SELECT 'a\\', 'b'`, 'replica', 'read'],
    [`SELECT '\\'; DELETE FROM t; --'`, 'primary', 'multi-statement-write'],
    [`SELECT 'x\\', nextval('s'), '`, 'primary', 'unparseable'],
    [`SELECT 'a\\'' , nextval('s') --'`, 'primary', 'volatile-function:nextval'],
  ])('%j', (...row) => check(row))
})

describe('keywords that are no reserved words, used as names', () => {
  it.each<Row>([
    ['WITH a AS (SELECT 1) UPDATE between SET x = 1', 'primary', 'write'],
    ['WITH a AS (SELECT 1) UPDATE update SET x = 1', 'primary', 'write'],
    ['WITH a AS (SELECT 1) UPDATE ONLY (public.key) AS k SET x = 1', 'primary', 'write'],
    ['WITH a AS (SELECT 1) UPDATE set SET x = 1', 'primary', 'write'],
    ['WITH a AS (SELECT 1) UPDATE t * SET x = 1', 'primary', 'write'],
    ['WITH a AS (SELECT 1) DELETE FROM between', 'primary', 'write'],
    ['SELECT count(*) update FROM t', 'replica', 'read'],
    ['SELECT f(x) delete FROM t', 'replica', 'read'],
    ['SELECT now()::timestamp with time zone delete FROM t', 'replica', 'read'],
    ['SELECT substring(delete FROM 1 FOR 2) FROM t', 'replica', 'read'],
    ['SELECT substring(x FROM 1 FOR update) FROM t', 'replica', 'read'],
    ['SELECT overlay(share PLACING key FROM 1 FOR 1) FROM t', 'replica', 'read'],
    ['SELECT 1 key, 2 share', 'replica', 'read'],
    ['SELECT update, delete FROM t WHERE between BETWEEN key AND share', 'replica', 'read'],
    ['SELECT * FROM t FOR KEY SHARE', 'primary', 'locking-read'],
    ['SELECT * FROM t FOR NO KEY UPDATE', 'primary', 'locking-read'],
    ['SELECT * FROM (SELECT substring(a FROM 1 FOR 2) FROM t FOR UPDATE) s', 'primary', 'locking-read'],
    ['WITH RECURSIVE t(n) AS (SELECT 1) CYCLE n SET update USING delete SELECT n FROM t', 'replica', 'read'],
    [
      'WITH RECURSIVE t(n) AS (SELECT 1) SEARCH DEPTH FIRST BY n SET update DELETE FROM items',
      'primary',
      'write',
    ],
    ['WITH a AS (SELECT 1) (SELECT 1) ORDER BY 1, nextval(1)', 'primary', 'volatile-function:nextval'],
  ])('%j', (...row) => check(row))
})

describe('write-function names used as CTE names and aliases', () => {
  it.each<Row>([
    ['WITH nextval(a) AS (SELECT 1) SELECT a FROM nextval', 'replica', 'read'],
    ['WITH RECURSIVE setval(n) AS (SELECT 1) SELECT * FROM setval', 'replica', 'read'],
    ['WITH a AS (SELECT 1), pg_advisory_lock(x) AS (SELECT 2) SELECT 1', 'replica', 'read'],
    ['SELECT * FROM t nextval(a, b)', 'replica', 'read'],
    ['SELECT * FROM generate_series(1, 2) nextval(n)', 'replica', 'read'],
    ['SELECT * FROM (SELECT 1) nextval(a) JOIN u setval(b) ON true', 'replica', 'read'],
    ['SELECT DISTINCT ON (a) nextval(1) FROM t', 'primary', 'volatile-function:nextval'],
    ['SELECT f(1, nextval(2))', 'primary', 'volatile-function:nextval'],
    [
      'SELECT * FROM t WHERE x = ANY (SELECT a FROM u nextval(a)) AND nextval(1) > 0',
      'primary',
      'volatile-function:nextval',
    ],
    ['SELECT "NEXTVAL"(1)', 'replica', 'read'],
  ])('%j', (...row) => check(row))
})

describe('EXPLAIN ANALYZE switched off in every spelling', () => {
  it.each([
    '0x0',
    '0X0',
    '0x_0',
    '0_0',
    '0b0',
    '0o0',
    '00',
    '-0',
    "U&'off'",
    "U&'o\\0066f'",
    "U&'o!0066f' UESCAPE '!'",
    "E'o\\x66f'",
    "E'\\157ff'",
    "E'o\\u0066f'",
    '$$off$$',
    '"off"',
    "'of'\n'f'",
    'FALSE',
  ])('ANALYZE %s', (value) => {
    check([`EXPLAIN (ANALYZE ${value}) DELETE FROM t`, 'replica', 'read'])
  })

  it.each(['1', '0x1', '0.0', "'on'", "E'\\x6fn'", "'off '", "B'0'", "N'off'"])('ANALYZE %s', (value) => {
    check([`EXPLAIN (ANALYZE ${value}) DELETE FROM t`, 'primary', 'explain-analyze-write'])
  })
})

describe('SQL given to functions as text', () => {
  it.each<Row>([
    [`SELECT query_to_xml('SELECT * FROM t', true, false, '')`, 'replica', 'read'],
    [
      `SELECT query_to_xml('SELECT pg_advisory_lock(1)', true, false, '')`,
      'primary',
      'volatile-function:query_to_xml',
    ],
    [
      `SELECT query_to_xml(E'SELECT n\\x65xtval(1)', true, false, '')`,
      'primary',
      'volatile-function:query_to_xml',
    ],
    [
      `SELECT query_to_xml($q$SELECT * FROM t FOR UPDATE$q$, true, false, '')`,
      'primary',
      'volatile-function:query_to_xml',
    ],
    [`SELECT query_to_xml('SELECT 1'::text, true, false, '')`, 'replica', 'read'],
    [`SELECT query_to_xml($1, true, false, '')`, 'primary', 'volatile-function:query_to_xml'],
    [`SELECT query_to_xml('SELECT 1' || 'x', true, false, '')`, 'primary', 'volatile-function:query_to_xml'],
    [`SELECT query_to_xml('SELECT 1 -- pgroute:replica', true, false, '')`, 'replica', 'read'],
    [
      `SELECT query_to_xml('DELETE FROM t /* pgroute:replica */', true, false, '')`,
      'primary',
      'volatile-function:query_to_xml',
    ],
    [`SELECT pg_catalog.query_to_xml_and_xmlschema('SELECT 1', true, false, '')`, 'replica', 'read'],
    [`SELECT ts_stat('SELECT v FROM t')`, 'replica', 'read'],
    [
      `SELECT ts_stat('SELECT v FROM t WHERE pg_try_advisory_lock(2)')`,
      'primary',
      'volatile-function:ts_stat',
    ],
    [`SELECT ts_rewrite('a'::tsquery, 'SELECT t, s FROM aliases')`, 'replica', 'read'],
    [
      `SELECT ts_rewrite('a'::tsquery, 'SELECT t, s FROM aliases, nextval(1)')`,
      'primary',
      'volatile-function:ts_rewrite',
    ],
    [`SELECT ts_rewrite('a'::tsquery, 'a'::tsquery, 'b'::tsquery)`, 'replica', 'read'],
    [`SELECT * FROM crosstab('SELECT 1, 2, 3', 'SELECT 1') AS c(a int, b int)`, 'replica', 'read'],
    [`SELECT * FROM crosstab('SELECT 1, 2, 3', 2) AS c(a int, b int)`, 'replica', 'read'],
    [
      `SELECT * FROM crosstab('SELECT 1, 2, 3', 'SELECT setval(1, 2)') AS c(a int)`,
      'primary',
      'volatile-function:crosstab',
    ],
    [`SELECT * FROM connectby('tree', 'id', 'parent', '1', 0) AS c(a int, b int, l int)`, 'replica', 'read'],
    [
      `SELECT * FROM connectby('tree', 'nextval(1)', 'parent', '1', 0) AS c(a int)`,
      'primary',
      'volatile-function:connectby',
    ],
    [`SELECT * FROM dblink('dbname=x', 'SELECT 1') AS d(a int)`, 'replica', 'read'],
    [
      `SELECT * FROM dblink('dbname=x', 'INSERT INTO t VALUES (1)') AS d(a text)`,
      'primary',
      'volatile-function:dblink',
    ],
    [`SELECT * FROM dblink('named', 'SELECT 1') AS d(a int)`, 'primary', 'volatile-function:dblink'],
    [`SELECT * FROM dblink('SELECT 1') AS d(a int)`, 'primary', 'volatile-function:dblink'],
    [
      `SELECT query_to_xml('SELECT query_to_xml(''SELECT pg_advisory_lock(3)'', true, false, '''')', true, false, '')`,
      'primary',
      'volatile-function:query_to_xml',
    ],
  ])('%j', (...row) => check(row))
})

describe('hints count only inside their own statement', () => {
  it.each<Row>([
    ['DELETE FROM t; -- pgroute:replica', 'primary', 'write'],
    ['DELETE FROM t; /* pgroute:replica */ ;', 'primary', 'write'],
    ['SELECT nextval(1);\n-- pgroute:replica\n', 'primary', 'volatile-function:nextval'],
    ['SELECT 1; -- pgroute:primary', 'replica', 'read'],
    ['DELETE FROM t -- pgroute:replica\n;', 'replica', 'hint:replica'],
    ['/* pgroute:replica */ DELETE FROM t', 'replica', 'hint:replica'],
  ])('%j', (...row) => check(row))
})
