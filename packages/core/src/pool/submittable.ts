import type pg from 'pg'

/**
 * A query object pg runs itself (`pg-cursor`, `pg-query-stream`): it has `submit` and carries its own text, on
 * itself (a cursor) or on the cursor it wraps (a query stream).
 */
export interface Submittable {
  readonly text?: string
  readonly cursor?: { readonly text?: string }
  submit: (...args: never[]) => void
}

/** What a client's `query()` takes: text, a config object, or a submittable. */
export type QueryInput = string | pg.QueryConfig | Submittable

/** Whether `value` is a submittable (pg hands it the connection instead of running it). */
export function isSubmittable(value: unknown): value is Submittable {
  return typeof (value as Submittable | null)?.submit === 'function'
}

/** The SQL text of any query input; `''` when it carries none (it is then routed as an empty statement). */
export function textOf(query: QueryInput): string {
  if (typeof query === 'string') return query
  if (typeof query.text === 'string') return query.text
  const cursorText = (query as Submittable).cursor?.text
  return typeof cursorText === 'string' ? cursorText : ''
}
