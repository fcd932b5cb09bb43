/** Connection settings of a node, shaped like `pg.ClientConfig` (pass it to `new pg.Client()` or `new pg.Pool()`). */
export interface NodeConnectionConfig {
  /** Host name or address. */
  readonly host: string
  /** TCP port. */
  readonly port: number
  /** Role to log in as (the cluster's superuser for local clusters). */
  readonly user: string
  /** Password of {@link user}. */
  readonly password: string
  /** Database name. */
  readonly database: string
  /** Set for external nodes, whose URL may carry further parameters (e.g. `sslmode`). */
  readonly connectionString?: string
}
