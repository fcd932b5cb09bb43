import { describe, expect, it } from 'vitest'
import { isClusterError, type StartClusterOptions } from '../src/index.js'
import { resolveClusterOptions } from '../src/resolve-options.js'
import { primarySettings } from '../src/server-config.js'

function optionOf(options: unknown): string | undefined {
  try {
    resolveClusterOptions(options as StartClusterOptions)
  } catch (error) {
    if (isClusterError(error) && error.code === 'PGROUTE_CLUSTER_INVALID_OPTION') return error.option
    throw error
  }
  throw new Error('expected an invalid-option error')
}

describe('replication modes: options', () => {
  it('resolves synchronous method, count and commit, archiving and topology', () => {
    const resolved = resolveClusterOptions({
      replicaOptions: [
        { synchronous: true },
        { synchronous: true },
        { upstream: 'replica-1' },
        { source: 'archive', recoveryTargetTimeline: 'current' },
      ],
      synchronousMethod: 'any',
      synchronousCount: 1,
      synchronousCommit: 'remote_apply',
      archive: { tool: 'copy', timeout: '1500ms' },
    })
    expect(resolved.replication).toEqual({
      synchronousCommit: 'remote_apply',
      synchronousMethod: 'any',
      synchronousCount: 1,
      archive: { dir: undefined, tool: 'copy', timeoutSeconds: 2 },
    })
    expect(resolved.replicas.map((r) => [r.name, r.upstream, r.source, r.recoveryTargetTimeline])).toEqual([
      ['replica-1', undefined, 'stream', 'latest'],
      ['replica-2', undefined, 'stream', 'latest'],
      ['replica-3', 'replica-1', 'stream', 'latest'],
      ['replica-4', undefined, 'archive', 'current'],
    ])
  })

  it('defaults: FIRST all synchronous replicas, no archive, synchronous_commit left to postgresConfig', () => {
    const resolved = resolveClusterOptions({ replicaOptions: [{ synchronous: true }, { synchronous: true }] })
    expect(resolved.replication).toEqual({
      synchronousCommit: undefined,
      synchronousMethod: 'first',
      synchronousCount: 2,
      archive: undefined,
    })
    expect(resolveClusterOptions({ archive: true }).replication.archive).toEqual({
      dir: undefined,
      tool: 'copy',
      timeoutSeconds: 1,
    })
    expect(resolveClusterOptions({ archive: { timeout: 0 } }).replication.archive?.timeoutSeconds).toBe(0)
  })

  it.each([
    [{ replicaOptions: [{ upstream: 'replica-2' }, {}] }, 'replicaOptions[0].upstream'],
    [{ replicaOptions: [{ upstream: 'replica-1' }] }, 'replicaOptions[0].upstream'],
    [{ replicaOptions: [{}, { upstream: 'nobody' }] }, 'replicaOptions[1].upstream'],
    [{ replicaOptions: [{}, { upstream: 3 }] }, 'replicaOptions[1].upstream'],
    [
      { archive: true, replicaOptions: [{}, { upstream: 'replica-1', source: 'archive' }] },
      'replicaOptions[1].upstream',
    ],
    [{ replicaOptions: [{ source: 'ship' }] }, 'replicaOptions[0].source'],
    [{ replicaOptions: [{ source: 'archive' }] }, 'replicaOptions[0].source'],
    [{ replicaOptions: [{ recoveryTargetTimeline: '2' }] }, 'replicaOptions[0].recoveryTargetTimeline'],
    [{ replicaOptions: [{}, { upstream: 'replica-1', synchronous: true }] }, 'replicaOptions[1].synchronous'],
    [
      { archive: true, replicaOptions: [{ source: 'archive', synchronous: true }] },
      'replicaOptions[0].synchronous',
    ],
    [{ synchronousCommit: 'always' }, 'synchronousCommit'],
    [{ synchronousCommit: 'on', postgresConfig: { synchronous_commit: 'off' } }, 'synchronousCommit'],
    [{ synchronousMethod: 'any' }, 'synchronousMethod'],
    [{ synchronousMethod: 'quorum', replicaOptions: [{ synchronous: true }] }, 'synchronousMethod'],
    [{ synchronousCount: 1 }, 'synchronousCount'],
    [{ synchronousCount: 2, replicaOptions: [{ synchronous: true }, {}] }, 'synchronousCount'],
    [{ synchronousCount: 0, replicaOptions: [{ synchronous: true }] }, 'synchronousCount'],
    [
      { synchronousCount: 1.5, replicaOptions: [{ synchronous: true }, { synchronous: true }] },
      'synchronousCount',
    ],
    [{ archive: 'yes' }, 'archive'],
    [{ archive: { tool: 'barman' } }, 'archive.tool'],
    [{ archive: { dir: '' } }, 'archive.dir'],
    [{ archive: { dir: "/tmp/it's" } }, 'archive.dir'],
    [{ archive: { dir: '/tmp/100%' } }, 'archive.dir'],
    [{ archive: { timeout: '1 second' } }, 'archive.timeout'],
    [{ archive: true, postgresConfig: { archive_command: 'true' } }, 'postgresConfig.archive_command'],
    [{ backend: 'docker', archive: true }, 'archive'],
    [{ backend: 'docker', replicaOptions: [{}, { upstream: 'replica-1' }] }, 'replicaOptions[1].upstream'],
    [
      { backend: 'docker', synchronousMethod: 'any', replicaOptions: [{ synchronous: true }] },
      'synchronousMethod',
    ],
  ])('rejects %j naming `%s`', (options, option) => {
    expect(optionOf(options)).toBe(option)
  })

  it('writes FIRST n or ANY n, capped at the synchronous standbys still listed', () => {
    const base = { port: 5432, clusterName: 'c' }
    expect(primarySettings({ ...base, synchronous: ['a', 'b'] }).synchronous_standby_names).toBe(
      'FIRST 2 ("a", "b")',
    )
    expect(
      primarySettings({ ...base, synchronous: ['a', 'b'], synchronousMethod: 'any', synchronousCount: 1 })
        .synchronous_standby_names,
    ).toBe('ANY 1 ("a", "b")')
    expect(
      primarySettings({ ...base, synchronous: ['b'], synchronousMethod: 'first', synchronousCount: 2 })
        .synchronous_standby_names,
    ).toBe('FIRST 1 ("b")')
    expect(primarySettings({ ...base, synchronous: [] }).synchronous_standby_names).toBeUndefined()
  })
})
