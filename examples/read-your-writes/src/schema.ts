import type { Router } from '@pgroute/core'

/** The tables every example uses: posts (the web frameworks) and users (the job queues). */
export async function migrate(router: Router): Promise<void> {
  await router.query('CREATE TABLE IF NOT EXISTS posts (id serial PRIMARY KEY, title text NOT NULL)')
  await router.query('CREATE TABLE IF NOT EXISTS users (id serial PRIMARY KEY, email text NOT NULL)')
}
