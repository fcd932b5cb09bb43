import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { bootstrapDigest, bootstrapScript, bootstrapUserData } from '../lib/bootstrap-user-data.js'

const env = { AWS_REGION: 'us-east-1', PGROUTE_SLOT: 'replica_1', PGROUTE_TEST_RUNNER_CIDR: '' }

describe('bootstrapUserData', () => {
  it('embeds the scripts verbatim and runs the role script with the parameters exported', () => {
    const userData = bootstrapUserData('replica', env)
    expect(userData.startsWith('#!/bin/bash\n')).toBe(true)
    expect(userData).toContain(bootstrapScript('common').trimEnd())
    expect(userData).toContain(bootstrapScript('replica').trimEnd())
    expect(userData).not.toContain(bootstrapScript('primary').trimEnd())
    expect(userData).toContain("export PGROUTE_SLOT='replica_1'\n")
    expect(userData.trimEnd().endsWith('exec /opt/pgroute/replica.sh')).toBe(true)
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
      const installed = (name: 'common' | 'primary') =>
        `${bootstrapScript(name).trimEnd().replaceAll('/opt/pgroute', root)}\n`
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

describe('bootstrapDigest', () => {
  it('changes with literal parameters and inputs, not with their order', () => {
    const base = bootstrapDigest('replica', env)
    expect(base).toMatch(/^[0-9A-F]{8}$/)
    expect(bootstrapDigest('replica', { ...env, PGROUTE_SLOT: 'replica_2' })).not.toBe(base)
    expect(bootstrapDigest('replica', env, ['primary-digest'])).not.toBe(base)
    expect(bootstrapDigest('primary', env)).not.toBe(base)
    const reordered = Object.fromEntries(Object.entries(env).reverse())
    expect(bootstrapDigest('replica', reordered)).toBe(base)
  })
})
