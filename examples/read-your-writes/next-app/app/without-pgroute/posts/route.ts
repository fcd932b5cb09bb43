// The same handler without the wrapper, for the test that shows the stale reads the wrapper prevents.
export { createPost as POST } from '../../../lib/post-handlers'
