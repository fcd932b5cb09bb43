import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import {
  bootstrapDigest,
  bootstrapScript,
  bootstrapUserData,
  userDataLimitBytes,
} from '../lib/bootstrap-user-data.js'

const env = { AWS_REGION: 'us-east-1', PGROUTE_SLOT: 'replica_1', PGROUTE_TEST_RUNNER_CIDR: '' }

describe('bootstrapUserData', () => {
  it('embeds the scripts (compressed, decoding to them verbatim) and runs the role script with the parameters exported', () => {
    const userData = bootstrapUserData('replica', env)
    expect(userData.startsWith('#!/bin/bash\n')).toBe(true)
    const files = embeddedFiles(userData)
    expect(Object.keys(files)).toEqual(['common.sh', 'replica.sh'])
    expect(files['common.sh']).toBe(`${bootstrapScript('common').trimEnd()}\n`)
    expect(files['replica.sh']).toBe(`${bootstrapScript('replica').trimEnd()}\n`)
    expect(userData).toContain("export PGROUTE_SLOT='replica_1'\n")
    expect(userData.trimEnd().endsWith('exec /opt/pgroute/replica.sh')).toBe(true)
  })

  it('adds the WAL archive helper only when asked, and keeps user data far below the EC2 limit', () => {
    const plain = bootstrapUserData('primary', env)
    const archiving = bootstrapUserData('primary', env, ['wal-s3'])
    expect(Object.keys(embeddedFiles(plain))).toEqual(['common.sh', 'primary.sh'])
    expect(embeddedFiles(archiving)['wal-s3.sh']).toBe(`${bootstrapScript('wal-s3').trimEnd()}\n`)
    expect(archiving).toContain(
      'chmod 0755 /opt/pgroute/common.sh /opt/pgroute/primary.sh /opt/pgroute/wal-s3.sh',
    )
    // The scripts travel compressed: room left for the parameters (plain text took 13.7 KiB without the helper).
    expect(Buffer.byteLength(archiving)).toBeLessThan(userDataLimitBytes - 4096)
  })

  it('is a valid shell script that installs the files it embeds unchanged', () => {
    const root = mkdtempSync(join(tmpdir(), 'pgroute-user-data-'))
    try {
      // Run only the file-writing part, redirected into a temporary directory.
      const userData = bootstrapUserData('primary', env)
        .replaceAll('/opt/pgroute', root)
        .replace(/^\. .*\n^exec .*\n/m, '')
      execFileSync('bash', ['-n', '-c', userData])
      execFileSync('bash', ['-c', userData])
      const installed = (name: 'common' | 'primary') => `${bootstrapScript(name).trimEnd()}\n`
      expect(readFileSync(join(root, 'primary.sh'), 'utf8')).toBe(installed('primary'))
      expect(readFileSync(join(root, 'common.sh'), 'utf8')).toBe(installed('common'))
      const exported = execFileSync('bash', [
        '-c',
        `. ${root}/bootstrap.env && printf '%s|%s' "$AWS_REGION" "$PGROUTE_SLOT"`,
      ])
      expect(exported.toString()).toBe('us-east-1|replica_1')
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })

  it.each([["it's"], ['$(reboot)'], ['a\nb'], ['`id`']])(
    'refuses a literal parameter needing quoting: %j',
    (value) => {
      expect(() => bootstrapUserData('primary', { PGROUTE_DATABASE: value })).toThrow(
        /PGROUTE_DATABASE .*shell quoting/,
      )
    },
  )
})

/** The files user data installs from compressed heredocs, by name, decoded. */
function embeddedFiles(userData: string): Record<string, string> {
  const files: Record<string, string> = {}
  const pattern = /^base64 -d <<'(\w+)' \| gzip -dc >\/opt\/pgroute\/([\w-]+\.sh)\n([\s\S]*?)^\1$/gm
  for (const [, , name, body] of userData.matchAll(pattern)) {
    files[name!] = gunzipSync(Buffer.from(body!.replace(/\n/g, ''), 'base64')).toString('utf8')
  }
  return files
}

describe('bootstrapDigest', () => {
  it('changes with literal parameters and inputs, not with their order', () => {
    const base = bootstrapDigest('replica', env)
    expect(base).toMatch(/^[0-9A-F]{8}$/)
    expect(bootstrapDigest('replica', { ...env, PGROUTE_SLOT: 'replica_2' })).not.toBe(base)
    expect(bootstrapDigest('replica', env, ['primary-digest'])).not.toBe(base)
    expect(bootstrapDigest('primary', env)).not.toBe(base)
    expect(bootstrapDigest('replica', env, [], ['wal-s3'])).not.toBe(base)
    const reordered = Object.fromEntries(Object.entries(env).reverse())
    expect(bootstrapDigest('replica', reordered)).toBe(base)
  })
})
