export type {
  Classification,
  ClassificationReason,
  Classifier,
  ClassifierOptions,
  RouteTarget,
} from './classification.js'
export { classify, createClassifier } from './classifier.js'
export {
  DEFAULT_LEARNED_ROUTES,
  type LearnedReason,
  type LearnedRoute,
  type LearnedRouteCounts,
  LearnedRoutes,
  learnedReason,
} from './learned-routes.js'
export { leavesReplica } from './pinning-rule.js'
export { DEFAULT_WRITE_FUNCTIONS } from './write-functions.js'
