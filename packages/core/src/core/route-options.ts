import type { Classification, ClassificationReason, RouteTarget } from '../classify/index.js'
import type { Lease } from '../replicas/lease.js'

/** Where a statement goes and why: the classifier's decision, or the router's own (a refused write re-run). */
export interface Routing {
  readonly target: RouteTarget
  readonly reason: ClassificationReason | 'read-only-rejection' | 'pinned'
  readonly transaction?: Classification['transaction']
}

/**
 * What happens to a request's connection once its statement ends: `release` it either way; `keep` it checked
 * out on success (the caller pins it), releasing it on failure; `borrowed`: the caller's pin holds it.
 */
export type ReleaseMode = 'release' | 'keep' | 'borrowed'

/** A statement a replica refused as a write, run again on the primary. */
export const READ_ONLY_REJECTION: Routing = Object.freeze({
  target: 'primary',
  reason: 'read-only-rejection',
})

/**
 * A connection a caller holds across statements: a pinned client's, a transaction's. A statement routed with a
 * pin runs on its lease; an empty pin gets the connection its statement ran on. When the caller lets the pin move
 * (`movable`), the statement may give its lease up and leave another in its place (or none, when it failed): the
 * caller reads `lease` after every statement.
 */
export interface Pin {
  lease: Lease | undefined
  /**
   * The lease may be given up when its replica cannot run the statement (it refused it as a write, failed in a way
   * a read is retried after, or is no longer a replica): set by the holder before each statement, true only for a
   * replica-pinned client outside a transaction, which holds no state there.
   */
  movable: boolean
  /**
   * The lease this pin held when it was found stale (its node fenced, or no longer what it was at checkout): its
   * connection was closed, and every later statement on the pin fails with `PGROUTE_ROLE_CHANGED` until the holder
   * lets the pin go. The pin is never filled again: the holder would lose its session state without knowing.
   */
  revoked: Lease | undefined
}

/** An empty pin: filled by the first statement routed with it. */
export function emptyPin(): Pin {
  return { lease: undefined, movable: false, revoked: undefined }
}

/** Options of `RouterCore.route`. */
export interface RouteOptions {
  /** Run on the connection this pin holds; an empty pin keeps the connection the statement ran on. */
  readonly pin?: Pin
  /** Run on the primary whatever the classification allows (`router.primary`). */
  readonly onPrimary?: boolean
}

/** No options: a statement routed by its text, its connection released once it ends. */
export const ROUTE: RouteOptions = Object.freeze({})
/** On the primary (`router.primary`). */
export const ON_PRIMARY: RouteOptions = Object.freeze({ onPrimary: true })
/** Pins a client to the primary before any statement. */
export const PIN_PRIMARY: Routing = Object.freeze({ target: 'primary', reason: 'pinned' })
/** Pins a client to a replica (as a read of the current session would get) before any statement. */
export const PIN_REPLICA: Routing = Object.freeze({ target: 'replica', reason: 'pinned' })
