import type { MigrationBuilder } from 'node-pg-migrate'

/** A table, and a row recording the server that ran the migration (its port). */
export async function up(pgm: MigrationBuilder): Promise<void> {
  pgm.createTable('tags', {
    id: 'id',
    name: { type: 'text', notNull: true },
    created_by: { type: 'integer', notNull: true, default: pgm.func('inet_server_port()') },
  })
  pgm.sql("INSERT INTO tags (name) VALUES ('first')")
}

export async function down(pgm: MigrationBuilder): Promise<void> {
  pgm.dropTable('tags')
}
