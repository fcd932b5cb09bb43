import type { Read } from './read-after-write.js'

/**
 * One iteration against an app serving `POST {prefix}/posts` and `GET {prefix}/posts/:id`: creates a post, then
 * reads it back, sending the token the write was answered with when `carryToken` (as a client of the
 * integration does; without it, there is none to send).
 */
export async function createThenRead(
  base: string,
  i: number,
  carryToken: boolean,
  prefix = '',
): Promise<Read> {
  const title = `post ${i}`
  const created = await fetch(`${base}${prefix}/posts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title }),
  })
  if (created.status !== 201)
    throw new Error(`POST /posts answered ${created.status}: ${await created.text()}`)
  const { id } = (await created.json()) as { id: number }
  const token = created.headers.get('x-pgroute-token')
  if (carryToken && token === null) throw new Error('the write was answered without x-pgroute-token')
  const read = await fetch(`${base}${prefix}/posts/${id}`, {
    headers: carryToken && token !== null ? { 'x-pgroute-token': token } : {},
  })
  if (read.status === 404) return { fresh: false, servedBy: undefined }
  if (read.status !== 200) throw new Error(`GET /posts/${id} answered ${read.status}: ${await read.text()}`)
  const post = (await read.json()) as { title: string; servedBy: number }
  if (post.title !== title) throw new Error(`GET /posts/${id} answered another post: ${post.title}`)
  return { fresh: true, servedBy: post.servedBy }
}
