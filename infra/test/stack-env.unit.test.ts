import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { isInfraError } from '../lib/infra-error.js'
import { formatExports, stackEnvironment } from '../lib/stack-env.js'

const secretArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:AppSecretFAB5164C-AbCdEf'
const password = 'S3cretPassw0rdGeneratedBySM4xyzQ'

/** Outputs as `cdk deploy --outputs-file` writes them. */
function outputsFile(extra: Record<string, string> = {}) {
  return {
    PgrouteCluster: {
      PrimaryEndpoint: 'ip-10-42-0-10.ec2.internal:5432',
      ReplicaEndpoints: 'ip-10-42-1-11.ec2.internal:5432,ip-10-42-0-12.ec2.internal:5432',
      DatabaseName: 'pgroute',
      AppSecretArn: secretArn,
      ...extra,
    },
  }
}

const publicOutputs = {
  PrimaryPublicEndpoint: 'ec2-198-51-100-10.compute-1.amazonaws.com:5432',
  ReplicaPublicEndpoints:
    'ec2-198-51-100-11.compute-1.amazonaws.com:5432,ec2-198-51-100-12.compute-1.amazonaws.com:5432',
}

/** A fake secret provider recording what was asked for. */
function fakeSecrets(secretString = JSON.stringify({ username: 'pgroute_app', password })) {
  const requested: string[] = []
  return {
    requested,
    readSecret: async (arn: string) => {
      requested.push(arn)
      return secretString
    },
  }
}

async function captureError(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

describe('stackEnvironment', () => {
  it('builds private URLs from the outputs and the secret, fetching it by the output ARN', async () => {
    const secrets = fakeSecrets()
    const env = await stackEnvironment(outputsFile(), { readSecret: secrets.readSecret })
    const query = 'sslmode=require&uselibpqcompat=true'
    expect(secrets.requested).toEqual([secretArn])
    expect(env).toEqual({
      PGROUTE_PRIMARY_URL: `postgres://pgroute_app:${password}@ip-10-42-0-10.ec2.internal:5432/pgroute?${query}`,
      PGROUTE_REPLICA_URLS: [
        `postgres://pgroute_app:${password}@ip-10-42-1-11.ec2.internal:5432/pgroute?${query}`,
        `postgres://pgroute_app:${password}@ip-10-42-0-12.ec2.internal:5432/pgroute?${query}`,
      ].join(','),
    })
  })

  it('prefers public endpoints when the stack has them, unless private is asked for', async () => {
    const { readSecret } = fakeSecrets()
    const byDefault = await stackEnvironment(outputsFile(publicOutputs), { readSecret })
    expect(new URL(byDefault.PGROUTE_PRIMARY_URL).hostname).toBe('ec2-198-51-100-10.compute-1.amazonaws.com')
    expect(byDefault.PGROUTE_REPLICA_URLS.split(',').map((url) => new URL(url).hostname)).toEqual([
      'ec2-198-51-100-11.compute-1.amazonaws.com',
      'ec2-198-51-100-12.compute-1.amazonaws.com',
    ])
    const internal = await stackEnvironment(outputsFile(publicOutputs), { readSecret, network: 'private' })
    expect(new URL(internal.PGROUTE_PRIMARY_URL).hostname).toBe('ip-10-42-0-10.ec2.internal')
  })

  it('percent-encodes credentials so any secret survives URL parsing', async () => {
    const odd = 'p@ss:w/rd?#%'
    const { readSecret } = fakeSecrets(JSON.stringify({ username: 'app user', password: odd }))
    const env = await stackEnvironment(outputsFile(), { readSecret })
    const url = new URL(env.PGROUTE_PRIMARY_URL)
    expect(decodeURIComponent(url.username)).toBe('app user')
    expect(decodeURIComponent(url.password)).toBe(odd)
    expect(url.port).toBe('5432')
    expect(url.pathname).toBe('/pgroute')
    expect(url.searchParams.get('sslmode')).toBe('require')
  })

  it('picks the stack by name when the file holds several', async () => {
    const { readSecret } = fakeSecrets()
    const outputs = { Other: outputsFile().PgrouteCluster, PgrouteCluster: outputsFile().PgrouteCluster }
    await expect(stackEnvironment(outputs, { readSecret })).rejects.toThrow(
      /several cluster stacks \(Other, PgrouteCluster\)/,
    )
    const env = await stackEnvironment(outputs, { readSecret, stackName: 'PgrouteCluster' })
    expect(env.PGROUTE_PRIMARY_URL).toContain('ip-10-42-0-10')
  })

  it.each([
    ['no cluster stack', { Unrelated: { Foo: 'bar' } }, /no pgroute cluster stack/],
    [
      'a missing output',
      { PgrouteCluster: { PrimaryEndpoint: 'h:5432', ReplicaEndpoints: 'r:5432' } },
      /no output DatabaseName/,
    ],
    [
      'a malformed endpoint',
      outputsFile({ PrimaryEndpoint: 'just-a-host' }),
      /malformed endpoint "just-a-host"/,
    ],
    ['not an object', [1, 2], /does not hold a JSON object/],
  ])('rejects outputs with %s', async (_, outputs, message) => {
    const error = await captureError(stackEnvironment(outputs, fakeSecrets()))
    expect(isInfraError(error)).toBe(true)
    expect(error).toMatchObject({ code: 'PGROUTE_INFRA_OUTPUTS', message: expect.stringMatching(message) })
  })

  it('refuses public URLs for a stack deployed without a test-runner CIDR', async () => {
    const error = await captureError(stackEnvironment(outputsFile(), { ...fakeSecrets(), network: 'public' }))
    expect(error).toMatchObject({
      code: 'PGROUTE_INFRA_OUTPUTS',
      message: expect.stringContaining('testRunnerCidr'),
    })
  })

  it.each([
    ['not JSON', `not json ${password}`],
    ['without a password', JSON.stringify({ username: 'pgroute_app' })],
    ['with an empty password', JSON.stringify({ username: 'pgroute_app', password: '' })],
  ])('rejects a secret %s without quoting it', async (_, secretString) => {
    const error = await captureError(stackEnvironment(outputsFile(), fakeSecrets(secretString)))
    expect(error).toMatchObject({ code: 'PGROUTE_INFRA_SECRET', message: expect.stringContaining(secretArn) })
    expect((error as Error).message).not.toContain(password)
  })
})

describe('formatExports', () => {
  it('prints export lines that a POSIX shell evaluates back to the exact values', () => {
    const values = {
      PGROUTE_PRIMARY_URL: `postgres://a:b@h:5432/db?x=1&y=$HOME`,
      PGROUTE_REPLICA_URLS: `it's "quoted"`,
    }
    const text = formatExports(values)
    expect(text.split('\n').filter(Boolean)).toHaveLength(2)
    const script = `${text}printf '%s\\n%s' "$PGROUTE_PRIMARY_URL" "$PGROUTE_REPLICA_URLS"`
    const evaluated = execFileSync('sh', ['-c', script], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: '/nowhere' },
    })
    expect(evaluated).toBe(`${values.PGROUTE_PRIMARY_URL}\n${values.PGROUTE_REPLICA_URLS}`)
  })
})
