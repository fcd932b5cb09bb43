/**
 * What pgroute's own adapters (`@pgroute/kysely`, `@pgroute/drizzle`) share with the core. Not a public API:
 * it follows the core's version exactly and may change in any release.
 *
 * @packageDocumentation
 */

export { leavesReplica } from './classify/pinning-rule.js'
export { reopenClient } from './pool/routed-client.js'
export { type Lease, leaseIsCurrent } from './replicas/lease.js'
