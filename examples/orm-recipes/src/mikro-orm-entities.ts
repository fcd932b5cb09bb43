import { EntitySchema, type Opt } from '@mikro-orm/core'

/** A row of `notes` as MikroORM maps it (`Opt`: the database gives a default). */
export interface MikroNote {
  id: number
  title: string
  writtenAt: Opt<Date>
  seenAt: Opt<Date>
  pause: Opt<{ days?: number; hours?: number; minutes?: number; seconds?: number }>
  moods: Opt<string[]>
  span: Opt<string>
  total: Opt<bigint>
  price: Opt<string>
  writtenBy: Opt<number>
  servedBy: Opt<number>
}

export const MikroNoteSchema = new EntitySchema<MikroNote>({
  name: 'Note',
  tableName: 'notes',
  properties: {
    id: { type: 'integer', primary: true },
    title: { type: 'string' },
    writtenAt: { type: 'datetime', columnType: 'timestamp(3)', defaultRaw: 'now()' },
    seenAt: { type: 'datetime', columnType: 'timestamptz(3)', defaultRaw: 'now()' },
    pause: { type: 'interval', defaultRaw: "'1 day'" },
    moods: {
      type: 'string[]',
      enum: true,
      array: true,
      items: ['calm', 'glad', 'tense'],
      defaultRaw: "'{}'",
    },
    span: { type: 'string', columnType: 'int4range', defaultRaw: "'empty'" },
    total: { type: 'bigint', defaultRaw: '0' },
    price: { type: 'decimal', precision: 12, scale: 2, defaultRaw: '0' },
    writtenBy: { type: 'integer', defaultRaw: 'inet_server_port()' },
    servedBy: { type: 'integer', persist: false },
  },
})
