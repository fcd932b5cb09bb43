import type { Router } from '@pgroute/core'

/** A user as the welcome jobs read it (`servedBy`: the port of the server that answered). */
export interface User {
  readonly id: number
  readonly email: string
  readonly servedBy: number
}

/** Signs up `email`; resolves to the new user's id. */
export async function insertUser(router: Router, email: string): Promise<number> {
  const { rows } = await router.query<{ id: number }>('INSERT INTO users (email) VALUES ($1) RETURNING id', [
    email,
  ])
  return rows[0]!.id
}

/** The user `id`, or `undefined` when the server that answered has not got it (yet). */
export async function findUser(router: Router, id: number): Promise<User | undefined> {
  const { rows } = await router.query<User>(
    'SELECT id, email, inet_server_port() AS "servedBy" FROM users WHERE id = $1',
    [id],
  )
  return rows[0]
}

/** What a welcome job does with the user it read (sends the mail, in a real app). */
export type Welcome = (userId: number, user: User | undefined) => Promise<void>
