/**
 * CDK app entry point. `cdk deploy` runs it through cdk.json; `pnpm --filter infra synth` runs it directly
 * (no CDK CLI, no AWS credentials, no network) and accepts the same `-c key=value` context arguments.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { App } from 'aws-cdk-lib'
import { clusterOptionsFromContext } from '../lib/cluster-options.js'
import { PgrouteClusterStack } from '../lib/cluster-stack.js'
import { InfraError, isInfraError } from '../lib/infra-error.js'

const defaultStackName = 'PgrouteCluster'

/** `-c key=value` / `--context key=value` pairs, as the CDK CLI accepts them. */
function contextFromArgs(args: readonly string[]): Record<string, string> {
  const context: Record<string, string> = {}
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!
    const inline = /^--context=(.*)$/.exec(arg)?.[1]
    const pair = inline ?? (arg === '-c' || arg === '--context' ? args[++index] : undefined)
    if (pair === undefined) throw InfraError.invalidOption(arg, 'expected -c key=value')
    const separator = pair.indexOf('=')
    if (separator <= 0) throw InfraError.invalidOption(pair, 'expected -c key=value')
    context[pair.slice(0, separator)] = pair.slice(separator + 1)
  }
  return context
}

/** cdk.json's context, which the CDK CLI would otherwise be the only one to apply. */
function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as {
    context?: object
  }
  return { ...cdkJson.context }
}

function main(): void {
  const started = performance.now()
  // Under the CDK CLI, CDK_OUTDIR and CDK_CONTEXT_JSON carry the output directory and context.
  const standalone = process.env.CDK_OUTDIR === undefined
  const outdir = standalone ? fileURLToPath(new URL('../cdk.out', import.meta.url)) : undefined
  const app = new App({
    outdir,
    context: standalone ? { ...cdkJsonContext(), ...contextFromArgs(process.argv.slice(2)) } : {},
  })
  const stackName = String(app.node.tryGetContext('stackName') ?? defaultStackName)
  const stack = new PgrouteClusterStack(
    app,
    stackName,
    clusterOptionsFromContext((key) => app.node.tryGetContext(key)),
  )
  app.synth()
  if (standalone) {
    const { replicas, instanceType, postgresVersion } = stack.options
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    console.log(
      `Synthesized ${stackName} (PostgreSQL ${postgresVersion}, 1 primary + ${replicas} ` +
        `replica${replicas === 1 ? '' : 's'}, ${instanceType}) ` +
        `to ${outdir} in ${seconds}s`,
    )
  }
}

try {
  main()
} catch (error) {
  if (!isInfraError(error)) throw error
  console.error(error.message)
  process.exitCode = 1
}
