/*
 * Statement texts in the shapes Prisma's query engine and TypeORM send, generated from small templates (their
 * engines cannot run here without a database), for the classifier's differential corpus.
 */

const models = [
  { table: 'User', columns: ['id', 'email', 'name', 'createdAt'] },
  { table: 'Post', columns: ['id', 'title', 'published', 'authorId'] },
  { table: 'job', columns: ['id', 'queue', 'payload', 'run_at', 'locked_by'] },
  { table: 'Account', columns: ['id', 'userId', 'provider', 'providerAccountId', 'refresh_token'] },
  { table: 'Session', columns: ['id', 'sessionToken', 'userId', 'expires'] },
  { table: 'order_item', columns: ['id', 'order_id', 'sku', 'quantity', 'unit_price', 'update'] },
  { table: 'Comment', columns: ['id', 'postId', 'body', 'select', 'for'] },
]

function prismaColumns(table: string, columns: readonly string[]): string {
  return columns.map((column) => `"public"."${table}"."${column}"`).join(', ')
}

/** Texts shaped like Prisma's: fully qualified quoted names, `$n` parameters, `1=1` fillers. */
export function prismaStatements(): string[] {
  const out = [
    'SELECT 1',
    'BEGIN',
    'COMMIT',
    'ROLLBACK',
    'DEALLOCATE ALL',
    'SET TRANSACTION ISOLATION LEVEL READ COMMITTED',
  ]
  for (const { table, columns } of models) {
    const all = prismaColumns(table, columns)
    const id = `"public"."${table}"."id"`
    for (const where of ['1=1', `${id} = $1`, `(${id} = $1 AND 1=1)`, `${id} IN ($1,$2,$3)`, `${id} > $1`]) {
      out.push(`SELECT ${all} FROM "public"."${table}" WHERE ${where} OFFSET $4`)
      out.push(`SELECT ${all} FROM "public"."${table}" WHERE ${where} ORDER BY ${id} ASC LIMIT $4 OFFSET $5`)
      out.push(
        `SELECT COUNT(*) AS "_count._all" FROM (SELECT ${id} FROM "public"."${table}" WHERE ${where} OFFSET $4) AS "sub"`,
      )
      out.push(`UPDATE "public"."${table}" SET "${columns[1]}" = $1 WHERE ${where}`)
      out.push(`DELETE FROM "public"."${table}" WHERE ${where}`)
      out.push(`SELECT ${all} FROM "public"."${table}" WHERE ${where} FOR UPDATE`)
    }
    const placeholders = columns.slice(1).map((_, index) => `$${index + 1}`)
    const names = columns.slice(1).map((column) => `"${column}"`)
    out.push(
      `INSERT INTO "public"."${table}" (${names.join(',')}) VALUES (${placeholders.join(',')}) RETURNING ${all}`,
    )
    out.push(
      `INSERT INTO "public"."${table}" (${names.join(',')}) VALUES (${placeholders.join(',')}) ON CONFLICT ("id") DO UPDATE SET "${columns[1]}" = EXCLUDED."${columns[1]}" RETURNING ${all}`,
    )
    out.push(
      `SELECT "t1"."id", COALESCE("aggr_selection_0_Post"."_aggr_count_posts", 0) AS "_aggr_count_posts" FROM "public"."${table}" AS "t1" LEFT JOIN (SELECT "Post"."authorId", COUNT(*) AS "_aggr_count_posts" FROM "public"."Post" WHERE 1=1 GROUP BY "Post"."authorId") AS "aggr_selection_0_Post" ON ("t1"."id" = "aggr_selection_0_Post"."authorId") WHERE 1=1 OFFSET $1`,
    )
  }
  out.push(`SELECT pg_advisory_lock(72707369)`, `SELECT pg_advisory_unlock(72707369)`)
  out.push(
    `SELECT "public"."_prisma_migrations"."id" FROM "public"."_prisma_migrations" WHERE 1=1 ORDER BY "public"."_prisma_migrations"."started_at" ASC`,
  )
  return out
}

/** Texts shaped like TypeORM's: `"Alias"."column" AS "Alias_column"`, START TRANSACTION, metadata queries. */
export function typeormStatements(): string[] {
  const out = [
    'START TRANSACTION',
    'COMMIT',
    'ROLLBACK',
    'SELECT version()',
    'SELECT * FROM current_schema()',
    `SELECT * FROM "information_schema"."tables" WHERE "table_schema" = 'public' AND "table_name" = 'typeorm_metadata'`,
    'SAVEPOINT typeorm_1',
    'RELEASE SAVEPOINT typeorm_1',
    'ROLLBACK TO SAVEPOINT typeorm_1',
    'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE',
  ]
  for (const { table, columns } of models) {
    const alias = table.charAt(0).toUpperCase() + table.slice(1)
    const selected = columns.map((column) => `"${alias}"."${column}" AS "${alias}_${column}"`).join(', ')
    const from = `FROM "${table.toLowerCase()}" "${alias}"`
    for (const where of [
      '',
      ` WHERE "${alias}"."id" = $1`,
      ` WHERE "${alias}"."id" IN ($1, $2)`,
      ` WHERE ( "${alias}"."${columns[1]}" = $1 )`,
    ]) {
      out.push(`SELECT ${selected} ${from}${where}`)
      out.push(`SELECT ${selected} ${from}${where} LIMIT 1`)
      out.push(
        `SELECT DISTINCT "distinctAlias"."${alias}_id" AS "ids_${alias}_id" FROM (SELECT ${selected} ${from}${where}) "distinctAlias" ORDER BY "${alias}_id" ASC LIMIT 10`,
      )
      out.push(`SELECT COUNT(DISTINCT("${alias}"."id")) AS "cnt" ${from}${where}`)
      out.push(`SELECT ${selected} ${from}${where} FOR UPDATE`)
      out.push(`SELECT ${selected} ${from}${where} FOR UPDATE SKIP LOCKED`)
      out.push(`SELECT ${selected} ${from}${where} FOR NO KEY UPDATE NOWAIT`)
      out.push(
        `UPDATE "${table.toLowerCase()}" SET "${columns[1]}" = $2${where.replaceAll(`"${alias}".`, '') || ' WHERE "id" = $1'}`,
      )
      out.push(`DELETE FROM "${table.toLowerCase()}"${where.replaceAll(`"${alias}".`, '')}`)
    }
    const names = columns.slice(1).map((column) => `"${column}"`)
    const values = columns.slice(1).map((_, index) => `$${index + 1}`)
    out.push(
      `INSERT INTO "${table.toLowerCase()}"(${names.join(', ')}) VALUES (${values.join(', ')}) RETURNING "id"`,
    )
    out.push(
      `INSERT INTO "${table.toLowerCase()}"(${names.join(', ')}) VALUES (${values.join(', ')}), (DEFAULT, DEFAULT, DEFAULT) RETURNING "id", "${columns[1]}"`,
    )
  }
  return out
}
