// The same handler without the wrapper, for the test that shows the stale reads the wrapper prevents.
export { getPost as GET } from '../../../../lib/post-handlers'
