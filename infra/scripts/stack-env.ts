/**
 * Prints `export PGROUTE_PRIMARY_URL=... PGROUTE_REPLICA_URLS=...` for the deployed cluster, read from the
 * `cdk deploy --outputs-file` JSON, with the application password fetched from Secrets Manager through the
 * AWS CLI at run time. The password is necessarily part of the printed URLs, so evaluate the output rather
 * than displaying or logging it:
 *
 *   eval "$(pnpm --filter infra -s env)"
 *
 * Options: --outputs <file> (default infra/cdk.out/outputs.json), --stack <name>, --network public|private.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { InfraError, isInfraError } from '../lib/infra-error.js'
import { formatExports, type StackNetwork, stackEnvironment } from '../lib/stack-env.js'

const execFileAsync = promisify(execFile)
const defaultOutputsFile = fileURLToPath(new URL('../cdk.out/outputs.json', import.meta.url))

/** Reads a secret with the AWS CLI, in the secret's own region whatever the local default is. */
async function readSecretWithAwsCli(arn: string): Promise<string> {
  const region = arn.split(':')[3]
  const args = [
    'secretsmanager',
    'get-secret-value',
    '--secret-id',
    arn,
    '--query',
    'SecretString',
    '--output',
    'text',
  ]
  if (region) args.push('--region', region)
  try {
    const { stdout } = await execFileAsync('aws', args, { maxBuffer: 1024 * 1024 })
    return stdout.replace(/\n$/, '')
  } catch (error) {
    const { code, stderr } = error as { code?: unknown; stderr?: string }
    const reason =
      code === 'ENOENT'
        ? 'the AWS CLI (aws) is not installed or not on PATH'
        : stderr?.trim() || String(error)
    throw new InfraError('PGROUTE_INFRA_SECRET', `could not read secret ${arn}: ${reason}`, { cause: error })
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      outputs: { type: 'string', default: defaultOutputsFile },
      stack: { type: 'string' },
      network: { type: 'string' },
    },
    strict: true,
  })
  const network = values.network
  if (network !== undefined && network !== 'public' && network !== 'private') {
    throw InfraError.invalidOption('network', `expected public or private, got ${JSON.stringify(network)}`)
  }
  let text: string
  try {
    text = await readFile(values.outputs, 'utf8')
  } catch (error) {
    throw new InfraError(
      'PGROUTE_INFRA_OUTPUTS',
      `cannot read ${values.outputs}; deploy with \`pnpm --filter infra deploy\` (it writes that file) or pass --outputs`,
      { cause: error },
    )
  }
  let outputs: unknown
  try {
    outputs = JSON.parse(text)
  } catch (error) {
    throw new InfraError('PGROUTE_INFRA_OUTPUTS', `${values.outputs} is not valid JSON`, { cause: error })
  }
  const env = await stackEnvironment(outputs, {
    readSecret: readSecretWithAwsCli,
    stackName: values.stack,
    network: network as StackNetwork | undefined,
  })
  process.stdout.write(formatExports({ ...env }))
}

main().catch((error: unknown) => {
  console.error(isInfraError(error) ? `pgroute infra env: ${error.message}` : error)
  process.exitCode = 1
})
