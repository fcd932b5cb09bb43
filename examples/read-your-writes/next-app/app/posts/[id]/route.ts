import { getPost } from '../../../lib/post-handlers'
import { withSession } from '../../../lib/router'

export const GET = withSession(getPost)
