import type { Router } from '@pgroute/core'

/** The tables of the examples: posts (web frameworks), users (job queues), orders (calls between services). */
export async function migrate(router: Router): Promise<void> {
  await router.query('CREATE TABLE IF NOT EXISTS posts (id serial PRIMARY KEY, title text NOT NULL)')
  await router.query('CREATE TABLE IF NOT EXISTS users (id serial PRIMARY KEY, email text NOT NULL)')
  await router.query('CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, item text NOT NULL)')
}
