import { EntitySchema } from 'typeorm'

/** A row of `notes` as TypeORM maps it. */
export interface TypeormNote {
  id: number
  title: string
  writtenAt: Date
  seenAt: Date
  pause: unknown
  moods: string[]
  span: string
  total: string
  price: string
  writtenBy: number
  servedBy: number
}

export const TypeormNoteSchema = new EntitySchema<TypeormNote>({
  name: 'Note',
  tableName: 'notes',
  columns: {
    id: { type: 'int', primary: true, generated: 'increment' },
    title: { type: 'text' },
    writtenAt: { name: 'written_at', type: 'timestamp', precision: 3, default: () => 'now()' },
    seenAt: { name: 'seen_at', type: 'timestamptz', precision: 3, default: () => 'now()' },
    pause: { type: 'interval', default: () => "'1 day'" },
    moods: {
      type: 'enum',
      enum: ['calm', 'glad', 'tense'],
      enumName: 'mood',
      array: true,
      default: () => "'{}'",
    },
    span: { type: 'int4range', default: () => "'empty'" },
    total: { type: 'bigint', default: () => '0' },
    price: { type: 'numeric', precision: 12, scale: 2, default: () => '0' },
    writtenBy: { name: 'written_by', type: 'int', default: () => 'inet_server_port()' },
    servedBy: { name: 'served_by', type: 'int', insert: false, update: false },
  },
})
