import { createPost } from '../../lib/post-handlers'
import { withSession } from '../../lib/router'

export const POST = withSession(createPost)
