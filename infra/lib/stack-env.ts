import { clusterOutputs } from './cluster-outputs.js'
import { InfraError } from './infra-error.js'

/** Which endpoints to put in the URLs. */
export type StackNetwork = 'public' | 'private'

/** Options of {@link stackEnvironment}. */
export interface StackEnvironmentOptions {
  /**
   * Reads a Secrets Manager secret's `SecretString` by ARN. The `env` script spawns the AWS CLI; tests pass a
   * fake.
   */
  readonly readSecret: (arn: string) => Promise<string>
  /** Stack to read from the outputs file. Default: the only stack in it that has the cluster's outputs. */
  readonly stackName?: string
  /**
   * `public` needs the stack to have been deployed with a test-runner CIDR; `private` works from inside the
   * VPC. Default: `public` when the stack has public endpoints, else `private`.
   */
  readonly network?: StackNetwork
}

/** The environment the integration suite reads to use an external cluster. */
export interface ClusterEnvironment {
  /** `postgres://user:password@host:port/db?sslmode=require&uselibpqcompat=true` of the primary. */
  readonly PGROUTE_PRIMARY_URL: string
  /** The replicas' URLs, comma-separated, in slot order. */
  readonly PGROUTE_REPLICA_URLS: string
}

/**
 * Turns `cdk deploy --outputs-file` JSON into the cluster environment, fetching the application password
 * through `readSecret` at run time (it is never stored in outputs).
 *
 * The URLs ask for TLS without certificate verification, libpq's `sslmode=require`: the nodes use self-signed
 * certificates. `uselibpqcompat=true` makes node-postgres give `sslmode` its libpq meaning (otherwise it treats
 * `require` as `verify-full` and rejects the certificate); drop it for libpq clients such as psql.
 *
 * @example
 * ```ts
 * const env = await stackEnvironment(JSON.parse(await readFile('cdk.out/outputs.json', 'utf8')), { readSecret })
 * process.stdout.write(formatExports(env))
 * ```
 *
 * @throws {InfraError} `PGROUTE_INFRA_OUTPUTS` for a missing stack or output, `PGROUTE_INFRA_SECRET` for a
 * secret without username and password. Messages never contain the password.
 */
export async function stackEnvironment(
  outputs: unknown,
  options: StackEnvironmentOptions,
): Promise<ClusterEnvironment> {
  const [stackName, stack] = pickStack(outputs, options.stackName)
  const read = (key: string): string | undefined => {
    const value = stack[key]
    return typeof value === 'string' && value !== '' ? value : undefined
  }
  const need = (key: string): string => {
    const value = read(key)
    if (value === undefined) throw outputsError(`stack ${stackName} has no output ${key}`)
    return value
  }
  const hasPublic = read(clusterOutputs.primaryPublicEndpoint) !== undefined
  const network = options.network ?? (hasPublic ? 'public' : 'private')
  if (network === 'public' && !hasPublic) {
    throw outputsError(
      `stack ${stackName} has no public endpoints; deploy it with -c testRunnerCidr=<your IP>/32`,
    )
  }
  const primary = need(
    network === 'public' ? clusterOutputs.primaryPublicEndpoint : clusterOutputs.primaryEndpoint,
  )
  const replicas = need(
    network === 'public' ? clusterOutputs.replicaPublicEndpoints : clusterOutputs.replicaEndpoints,
  )
  const database = need(clusterOutputs.databaseName)
  const secretArn = need(clusterOutputs.appSecretArn)

  const { username, password } = parseCredentials(await options.readSecret(secretArn), secretArn)
  const url = (endpoint: string) => {
    const { host, port } = splitEndpoint(endpoint, stackName)
    const auth = `${encodeURIComponent(username)}:${encodeURIComponent(password)}`
    return `postgres://${auth}@${host}:${port}/${encodeURIComponent(database)}?sslmode=require&uselibpqcompat=true`
  }
  return {
    PGROUTE_PRIMARY_URL: url(primary),
    PGROUTE_REPLICA_URLS: replicas.split(',').map(url).join(','),
  }
}

/** `export NAME='value'` lines for `eval`, single-quoted so no value is expanded by the shell. */
export function formatExports(env: Readonly<Record<string, string>>): string {
  return Object.entries(env)
    .map(([name, value]) => `export ${name}='${value.replaceAll("'", `'\\''`)}'\n`)
    .join('')
}

function pickStack(outputs: unknown, stackName: string | undefined): [string, Record<string, unknown>] {
  if (!isRecord(outputs)) throw outputsError('the outputs file does not hold a JSON object')
  const stacks = Object.entries(outputs).filter(
    (entry): entry is [string, Record<string, unknown>] =>
      isRecord(entry[1]) && clusterOutputs.primaryEndpoint in entry[1],
  )
  if (stackName !== undefined) {
    const stack = outputs[stackName]
    if (!isRecord(stack)) throw outputsError(`the outputs file has no stack ${stackName}`)
    return [stackName, stack]
  }
  if (stacks.length !== 1) {
    const names = stacks.map(([name]) => name).join(', ')
    throw outputsError(
      stacks.length === 0
        ? 'the outputs file has no pgroute cluster stack; deploy with `pnpm --filter infra run deploy` first'
        : `the outputs file has several cluster stacks (${names}); choose one with --stack`,
    )
  }
  return stacks[0]!
}

function parseCredentials(secretString: string, arn: string): { username: string; password: string } {
  let value: unknown
  try {
    value = JSON.parse(secretString)
  } catch {
    // The parse error would quote the secret; report only where it came from.
    throw new InfraError('PGROUTE_INFRA_SECRET', `secret ${arn} is not JSON`)
  }
  if (!isRecord(value) || typeof value.username !== 'string' || typeof value.password !== 'string') {
    throw new InfraError('PGROUTE_INFRA_SECRET', `secret ${arn} lacks a string username and password`)
  }
  if (value.username === '' || value.password === '') {
    throw new InfraError('PGROUTE_INFRA_SECRET', `secret ${arn} has an empty username or password`)
  }
  return { username: value.username, password: value.password }
}

function splitEndpoint(endpoint: string, stackName: string): { host: string; port: number } {
  const match = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(endpoint.trim())
  const port = Number(match?.[2])
  if (!match || port < 1 || port > 65535)
    throw outputsError(`stack ${stackName} has a malformed endpoint ${JSON.stringify(endpoint)}`)
  return { host: match[1]!, port }
}

function outputsError(message: string): InfraError {
  return new InfraError('PGROUTE_INFRA_OUTPUTS', message)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
