import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { Token, Tokenization } from 'aws-cdk-lib'

/** Which bootstrap script an instance runs. */
export type BootstrapRole = 'primary' | 'replica'

/** Helper scripts installed beside the role's script when an option needs them (`wal-s3`: WAL archiving to S3). */
export type BootstrapHelper = 'wal-s3'

/** EC2 refuses user data above 16 KiB (before base64). */
export const userDataLimitBytes = 16 * 1024

/** Where user data installs the scripts and their parameters; re-run them from there over SSM. */
export const bootstrapDir = '/opt/pgroute'

// Deploy-time values (ARNs, the stack id, private IPs) stay well below this once CloudFormation resolves them.
const bytesPerDeployTimeValue = 200
const scriptsDir = new URL('../scripts/', import.meta.url)
const heredocDelimiter = 'PGROUTE_BOOTSTRAP_EOF'
const literalValuePattern = /^[A-Za-z0-9 _.,:/@+=-]*$/

/** The text of `infra/scripts/<name>.sh`, read at synth time. */
export function bootstrapScript(name: 'common' | BootstrapRole | BootstrapHelper): string {
  const text = readFileSync(new URL(`${name}.sh`, scriptsDir), 'utf8')
  if (text.split('\n').includes(heredocDelimiter)) {
    throw new Error(
      `infra/scripts/${name}.sh contains the line ${heredocDelimiter}, which ends its user-data heredoc`,
    )
  }
  return text
}

/**
 * User data for one node: installs common.sh, the role's script, `helpers` and a `bootstrap.env` holding `env` (as
 * `export NAME='value'` lines) under {@link bootstrapDir}, then runs the role's script with that environment.
 * Values may be CDK tokens (resolved by CloudFormation); literal values are limited to characters that need
 * no quoting, so the generated shell cannot be subverted by a parameter. The scripts travel gzip-compressed and
 * base64-encoded (user data is limited to 16 KiB); `bootstrap.env` stays plain text.
 *
 * @throws Error when the result could exceed {@link userDataLimitBytes} (a defect of the scripts, not of options).
 */
export function bootstrapUserData(
  role: BootstrapRole,
  env: Readonly<Record<string, string>>,
  helpers: readonly BootstrapHelper[] = [],
): string {
  const exports = Object.entries(env).map(([name, value]) => {
    if (!/^[A-Z][A-Z0-9_]*$/.test(name))
      throw new Error(`invalid bootstrap variable name ${JSON.stringify(name)}`)
    if (!Token.isUnresolved(value) && !literalValuePattern.test(value)) {
      throw new Error(
        `bootstrap variable ${name} has characters that would need shell quoting: ${JSON.stringify(value)}`,
      )
    }
    return `export ${name}='${value}'`
  })
  const file = (path: string, content: string) => [
    `cat >${path} <<'${heredocDelimiter}'`,
    content.trimEnd(),
    heredocDelimiter,
  ]
  const compressed = (name: string) => [
    `base64 -d <<'${heredocDelimiter}' | gzip -dc >${bootstrapDir}/${name}.sh`,
    ...compressedLines(`${bootstrapScript(name as 'common').trimEnd()}\n`),
    heredocDelimiter,
  ]
  const scripts = ['common', role, ...helpers]
  const script = [
    '#!/bin/bash',
    `# pgroute ${role} bootstrap, generated at synth time from infra/scripts (see infra/README.md).`,
    'set -euo pipefail',
    `install -d -m 0755 ${bootstrapDir}`,
    ...file(`${bootstrapDir}/bootstrap.env`, exports.join('\n')),
    ...scripts.flatMap(compressed),
    `chmod 0755 ${scripts.map((name) => `${bootstrapDir}/${name}.sh`).join(' ')}`,
    `. ${bootstrapDir}/bootstrap.env`,
    `exec ${bootstrapDir}/${role}.sh`,
    '',
  ].join('\n')
  const worstCase =
    literalBytes(script) + Tokenization.reverseString(script).tokens.length * bytesPerDeployTimeValue
  if (worstCase > userDataLimitBytes) {
    throw new Error(
      `${role} user data could reach ${worstCase} bytes, above the EC2 limit of ${userDataLimitBytes}; shorten infra/scripts`,
    )
  }
  return script
}

/**
 * A short digest of everything known at synth time that shapes a node's bootstrap: the scripts, the literal
 * parameters and `inputs` (e.g. the primary's digest, for replicas). Instances carry it in their logical id,
 * so a changed bootstrap replaces the node (user data runs only at first boot) instead of leaving it stale.
 */
export function bootstrapDigest(
  role: BootstrapRole,
  env: Readonly<Record<string, string>>,
  inputs: readonly string[] = [],
  helpers: readonly BootstrapHelper[] = [],
): string {
  const hash = createHash('sha256')
  const scripts = [bootstrapScript('common'), bootstrapScript(role), ...helpers.map(bootstrapScript)]
  for (const part of [role, ...scripts, ...inputs]) hash.update(`${part}\0`)
  for (const [name, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!Token.isUnresolved(value)) hash.update(`${name}=${value}\0`)
  }
  return hash.digest('hex').slice(0, 8).toUpperCase()
}

/** `text` gzip-compressed (no name, no time: the same text gives the same bytes) in base64 lines of 76. */
function compressedLines(text: string): string[] {
  const encoded = gzipSync(Buffer.from(text, 'utf8'), { level: 9 }).toString('base64')
  return encoded.match(/.{1,76}/g) ?? []
}

function literalBytes(text: string): number {
  const literalsOnly = Tokenization.reverseString(text)
    .mapTokens({ mapToken: () => '' })
    .join({ join: (left, right) => `${left}${right}` })
  return Buffer.byteLength(String(literalsOnly ?? ''), 'utf8')
}
