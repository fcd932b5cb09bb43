import type {
  Kysely,
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryId,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely'

/**
 * Queries sent through {@link onPrimary}, by query id. The id travels from the plugin to the compiled query
 * unchanged, whatever other plugins do to the tree, and it leaves the SQL text untouched.
 */
const primaryQueries = new WeakSet<QueryId>()

/** Whether the query with this id was marked by {@link onPrimary}. */
export function isMarkedForPrimary(queryId: QueryId | undefined): boolean {
  return queryId !== undefined && primaryQueries.has(queryId)
}

class PrimaryPlugin implements KyselyPlugin {
  transformQuery({ node, queryId }: PluginTransformQueryArgs): RootOperationNode {
    primaryQueries.add(queryId)
    return node
  }

  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result
  }
}

const plugin = new PrimaryPlugin()

/**
 * A Kysely plugin that sends every query of the instance it is installed on to the primary, whatever its kind:
 * reads that must see the latest data (right after a write made elsewhere), or a `db.connection()` callback
 * that will write. The SQL is not changed. Works with any other plugins, in any order.
 *
 * @example
 * ```ts
 * import { onPrimary } from '@pgroute/kysely'
 *
 * const fresh = await db.withPlugin(onPrimary()).selectFrom('account').selectAll().where('id', '=', id).execute()
 * ```
 */
export function onPrimary(): KyselyPlugin {
  return plugin
}

/**
 * `db.withPlugin(onPrimary())`: the same Kysely instance (or transaction), with every query on the primary.
 *
 * @example
 * ```ts
 * import { primary } from '@pgroute/kysely'
 *
 * const balance = await primary(db).selectFrom('account').select('balance').where('id', '=', id).executeTakeFirst()
 * await primary(db).connection().execute(async (conn) => {
 *   const row = await conn.selectFrom('job').selectAll().limit(1).executeTakeFirst() // the primary
 *   if (row) await conn.deleteFrom('job').where('id', '=', row.id).execute() // same connection
 * })
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: any Kysely<DB> (or Transaction<DB>), returned as its own type.
export function primary<T extends Kysely<any>>(db: T): T {
  return db.withPlugin(plugin) as T
}
