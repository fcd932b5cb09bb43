import { getRouter } from './router'

/** POST /posts. */
export async function createPost(request: Request): Promise<Response> {
  const { title } = (await request.json()) as { title: string }
  const { rows } = await getRouter().query('INSERT INTO posts (title) VALUES ($1) RETURNING id', [title])
  return Response.json(rows[0], { status: 201 })
}

/** GET /posts/:id (`servedBy`: the port of the server that answered the read). */
export async function getPost(
  _request: Request,
  { params }: { params: Promise<{ id: string }> },
): Promise<Response> {
  const { id } = await params
  const { rows } = await getRouter().query(
    'SELECT id, title, inet_server_port() AS "servedBy" FROM posts WHERE id = $1',
    [Number(id)],
  )
  return rows[0] ? Response.json(rows[0]) : Response.json({ message: 'No such post' }, { status: 404 })
}
