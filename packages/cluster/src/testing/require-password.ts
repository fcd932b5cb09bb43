import type { Cluster } from '../cluster-node.js'
import type { SkippableContext } from './control.js'

/**
 * The password of the cluster's URLs, for tests that check it never shows (in status, logs, errors). On a cluster
 * whose URLs carry none (`trust` or `cert` authentication, e.g. a CI service container) the test is skipped with
 * that reason: with no password there is nothing to keep out, and a check for the empty string always fails.
 *
 * @example
 * ```ts
 * it('status() shows no password', (context) => {
 *   const password = requirePassword(context, cluster)
 *   expect(JSON.stringify(router.status())).not.toContain(password)
 * })
 * ```
 */
export function requirePassword(context: SkippableContext, cluster: Cluster): string {
  const password = cluster.primary.connectionConfig.password
  if (!password) {
    context.skip("needs a password: the cluster's URLs carry none (trust or cert authentication)")
  }
  return password
}
