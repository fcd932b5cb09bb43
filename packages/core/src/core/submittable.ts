import type pg from 'pg'

/**
 * A query object pg runs itself (`pg-cursor`, `pg-query-stream`): it has `submit` and carries its own text, on
 * itself (a cursor) or on the cursor it wraps (a query stream). pg hands it the connection's messages and its
 * errors (`handleError`), and calls `callback` if it has one when it is done (pg-query-stream does; a cursor
 * emits `end` instead).
 */
export interface Submittable {
  readonly text?: string
  readonly cursor?: { readonly text?: string }
  submit: (...args: never[]) => void
}

/** What pg uses of a submittable besides `submit`, and what a cursor emits once done. */
interface SubmittableParts {
  handleError?: (error: unknown, connection: unknown) => void
  callback?: ((error: Error | null, result?: unknown) => void) | undefined
  once?: (event: 'end', listener: (result: unknown) => void) => unknown
}

/** A submittable that could not be submitted fails as pg fails one: through its own `handleError`. */
export function failSubmittable(submittable: Submittable, error: unknown): void {
  const { handleError } = submittable as SubmittableParts
  if (typeof handleError === 'function') handleError.call(submittable, error, undefined)
}

/** pg's runtime signature of `query()`, wider than its types: a config object may come with values and a callback. */
export interface CallbackClient {
  query(
    statement: string | pg.QueryConfig,
    values: unknown[] | undefined,
    callback: (error: Error | null, result?: pg.QueryResult) => void,
  ): void
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
  if (typeof query?.text === 'string') return query.text
  const cursorText = (query as Submittable | null)?.cursor?.text
  return typeof cursorText === 'string' ? cursorText : ''
}

/**
 * Calls `ended` once `submittable` is done, whichever way pg tells it: its `callback` (pg-query-stream), its `end`
 * event (pg-cursor, after it was read to the end or closed), or an error pg hands it (the statement failed, the
 * connection was lost, or the router cancelled it). An error goes through `replace` first, which puts the router's
 * reason in place of pg's when the router cancelled it: the submittable itself fails with that reason.
 */
export function whenEnded(
  submittable: Submittable,
  replace: (error: unknown) => unknown,
  ended: (error: unknown, result: unknown) => void,
): void {
  const parts = submittable as SubmittableParts
  let done = false
  const end = (error: unknown, result: unknown) => {
    if (done) return
    done = true
    ended(error, result)
  }
  const theirs = parts.callback
  parts.callback = (error, result) => {
    end(error ?? undefined, result)
    theirs?.(error, result)
  }
  const handleError = parts.handleError
  if (typeof handleError === 'function') {
    parts.handleError = (error, connection) => {
      const replaced = replace(error)
      handleError.call(submittable, replaced, connection)
      end(replaced, undefined)
    }
  }
  if (typeof parts.once === 'function') parts.once('end', (result) => end(undefined, result))
}
