import type { RouteTarget } from '@pgroute/core'
import type { CompiledQuery } from 'kysely'
import { queryNodeTarget } from './query-node-target.js'

/** Distinct SELECT texts remembered, as many as the router's classifier cache holds by default. */
const CAPACITY = 1000

/**
 * {@link queryNodeTarget} of compiled queries, remembered by SQL text for SELECTs. Walking a SELECT's whole tree
 * costs more than the rest of a query's routing together (about 2 µs for a point select, on every execution), and
 * its answer is written in the text: what makes a SELECT need the primary (a data-changing statement in it, a row
 * lock, a raw end clause) is part of its SQL. A hot query's answer is one `Map` lookup; texts are entered once
 * (bounded, the oldest dropped first), never per execution.
 */
export class QueryTargets {
  readonly #selects = new Map<string, RouteTarget>()

  /** Where `query` must run (see {@link queryNodeTarget}). */
  of(query: CompiledQuery): RouteTarget | undefined {
    if (query.query.kind !== 'SelectQueryNode') return queryNodeTarget(query.query)
    let target = this.#selects.get(query.sql)
    if (target === undefined) {
      target = queryNodeTarget(query.query) ?? 'primary'
      if (this.#selects.size >= CAPACITY) this.#selects.delete(this.#selects.keys().next().value!)
      this.#selects.set(query.sql, target)
    }
    return target
  }
}
