/** Whether `PGROUTE_PRIMARY_URL` names an external cluster for the test suites to use. */
export function clusterEnvConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.PGROUTE_PRIMARY_URL?.trim() ?? '') !== ''
}
