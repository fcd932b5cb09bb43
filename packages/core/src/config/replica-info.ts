/**
 * What a balancing strategy (built-in or custom) sees of one eligible replica. A snapshot: reading it has no
 * side effects and it never exposes connection settings.
 */
export interface ReplicaInfo {
  /** Node name, as in `status()`. */
  readonly name: string
  /** Configured relative weight (default 1). */
  readonly weight: number
  /** Bytes of WAL behind the primary at the last probe. */
  readonly lagBytes: number
  /** Age in seconds of the oldest WAL not replayed yet, at the last probe (0 while caught up). */
  readonly lagSeconds: number
  /** Statements running on the node now. */
  readonly inFlight: number
  /** Statements the node has served since the router started. */
  readonly served: number
  /** The node's `zone`, as configured. */
  readonly zone: string | undefined
  /**
   * Measured round-trip time to the node in milliseconds (a moving average of the health probes' round trips and
   * of the fastest statement between two probes), or `undefined` before its first probe.
   */
  readonly rttMs: number | undefined
}
