/*
 * What the function-effects generator and the classifier's drift test share: the extensions installed before
 * pg_proc is read, the fixture the calls use, and the query that lists the functions.
 */

/** Extensions that cannot be installed on a server where another one is (or that need a language missing here). */
export const SKIPPED_EXTENSIONS = new Set(['plperlu', 'plpython3u', 'pltclu'])

/** Objects the synthesized arguments name, created on the primary before the calls. */
export const FUNCTION_FIXTURE: readonly string[] = [
  'CREATE TABLE oracle_t (id int PRIMARY KEY, body text, doc tsvector)',
  "INSERT INTO oracle_t SELECT g, 'row ' || g, to_tsvector('row ' || g) FROM generate_series(1, 100) g",
  'CREATE INDEX oracle_brin ON oracle_t USING brin (id)',
  'CREATE INDEX oracle_gin ON oracle_t USING gin (doc)',
  'CREATE SEQUENCE oracle_seq',
  "SELECT lo_from_bytea(4242, 'oracle')",
  'CREATE VIEW oracle_v AS SELECT id FROM oracle_t',
]

/** One function of pg_proc, as the generator and the drift test read it. */
export interface CatalogFunction {
  /** `schema.name(identity arguments)`. */
  readonly signature: string
  readonly schema: string
  readonly name: string
  /** The extension it belongs to, or null for a built-in. */
  readonly extension: string | null
  /** `i`, `s` or `v`. */
  readonly volatility: string
  /** `f`, `a`, `w` or `p`. */
  readonly kind: string
  readonly strict: boolean
  readonly returns: string
  readonly argTypes: readonly string[]
  readonly argNames: readonly string[]
}

/** Every function of built-in schemas and of installed extensions (objects of the fixture and of users left out). */
export const CATALOG_QUERY = `
  SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS signature,
         n.nspname AS schema, p.proname AS name, e.extname AS extension, p.provolatile AS volatility,
         p.prokind AS kind, p.proisstrict AS strict, format_type(p.prorettype, NULL) AS returns,
         coalesce((SELECT array_agg(format_type(t, NULL) ORDER BY i)
                     FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY a(t, i)), '{}') AS "argTypes",
         coalesce(p.proargnames[1:p.pronargs], '{}') AS "argNames"
    FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace
    LEFT JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
    LEFT JOIN pg_extension e ON e.oid = d.refobjid
   WHERE (n.nspname IN ('pg_catalog', 'information_schema') OR e.extname IS NOT NULL)
   ORDER BY 1`
