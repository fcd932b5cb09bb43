import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { hbaConf, storedPassword } from '../src/client-auth.js'
import { isClusterError, type StartClusterOptions } from '../src/index.js'
import { resolveClusterOptions } from '../src/resolve-options.js'

function optionOf(options: unknown): string | undefined {
  try {
    resolveClusterOptions(options as StartClusterOptions)
  } catch (error) {
    if (isClusterError(error)) return error.option
    throw error
  }
  throw new Error('expected a ClusterError')
}

describe('auth and tls options', () => {
  it('default to scram-sha-256 without TLS; cert implies TLS', () => {
    expect(resolveClusterOptions()).toMatchObject({ auth: 'scram-sha-256', tls: false })
    expect(resolveClusterOptions({ auth: 'cert' })).toMatchObject({ auth: 'cert', tls: true })
    expect(resolveClusterOptions({ auth: 'trust', tls: true })).toMatchObject({ auth: 'trust', tls: true })
  })

  it('are validated up front, and only the embedded backend has them', () => {
    expect(optionOf({ auth: 'password' })).toBe('auth')
    expect(optionOf({ tls: 'yes' })).toBe('tls')
    expect(optionOf({ backend: 'docker', auth: 'md5' })).toBe('auth')
    expect(optionOf({ backend: 'docker', tls: true })).toBe('tls')
  })
})

describe('pg_hba.conf and the stored password', () => {
  it('accepts TLS connections only with tls, and replication with the password method (trust without one)', () => {
    expect(hbaConf('md5', false)).toContain(
      'host all all 127.0.0.1/32 md5\nhost replication all 127.0.0.1/32 md5',
    )
    expect(hbaConf('cert', true)).toContain(
      'hostssl all all 127.0.0.1/32 cert\nhostssl replication all 127.0.0.1/32 trust',
    )
    expect(hbaConf('scram-sha-256', true)).not.toMatch(/^host /m)
  })

  it('stores an MD5 hash for md5 (so the server asks for MD5) and a SCRAM verifier otherwise, never clear text', () => {
    const md5 = createHash('md5').update('secretpostgres').digest('hex')
    expect(storedPassword('md5', 'postgres', 'secret')).toBe(`md5${md5}`)
    expect(storedPassword('scram-sha-256', 'postgres', 'secret')).toMatch(/^SCRAM-SHA-256\$4096:/)
    expect(storedPassword('trust', 'postgres', 'secret')).not.toContain('secret')
  })
})
