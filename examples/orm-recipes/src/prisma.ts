import type { Router } from '@pgroute/core'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from './prisma/generated/client.js'

/**
 * Prisma Client on the router's pool, through Prisma's `pg` driver adapter: a query outside a transaction runs
 * with `router.pool.query()` (a read on a replica, a write on the primary), an interactive or batch transaction on
 * a `router.pool` client (`BEGIN`: the primary). The adapter reads rows with its own type parsers, whatever the
 * nodes have. `prisma.$disconnect()` leaves the router open; end it with `router.end()`.
 *
 * `router.pool` must be a pool of the copy of `pg` that `@prisma/adapter-pg` loads: install one copy of `pg`.
 */
export function createPrisma(router: Router): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg(router.pool) })
}
