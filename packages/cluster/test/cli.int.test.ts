import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clusterProcesses } from './process-scan.js'

const cli = path.join(import.meta.dirname, '..', 'src', 'cli.ts')
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'pgroute-cli-test-'))
const stateFile = path.join(stateDir, 'state.json')

function run(...args: string[]) {
  const result = spawnSync(
    process.execPath,
    ['--import', tsxLoader, cli, ...args, '--state-file', stateFile],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  )
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

let owner: ChildProcess
let upOutput = ''
let ownerExit: Promise<number | null>

beforeAll(async () => {
  owner = spawn(
    process.execPath,
    [
      '--import',
      tsxLoader,
      cli,
      'up',
      '--replicas',
      '2',
      '--delay',
      '0',
      '--delay',
      '1s',
      '--state-file',
      stateFile,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  ownerExit = new Promise((resolve) => owner.once('exit', (code) => resolve(code)))
  owner.stderr?.on('data', (chunk) => (upOutput += chunk))
  await new Promise<void>((resolve, reject) => {
    owner.stdout?.on('data', (chunk) => {
      upOutput += chunk
      if (upOutput.includes('Data: ')) resolve()
    })
    owner.once('exit', () => reject(new Error(`up exited early:\n${upOutput}`)))
  })
})

afterAll(async () => {
  if (owner.exitCode === null) owner.kill('SIGTERM')
  await ownerExit
  rmSync(stateDir, { recursive: true, force: true })
})

describe('pgroute-cluster CLI', () => {
  it('up prints the URLs of every node, with the password users need', () => {
    const urls = [...upOutput.matchAll(/^ {2}(\S+)\s+(postgres:\/\/\S+)/gm)].map((match) => [
      match[1],
      match[2],
    ])
    expect(urls.map(([name]) => name)).toEqual(['primary', 'replica-1', 'replica-2'])
    expect(upOutput).toContain('(apply delay 1000 ms)')
    expect(upOutput).toMatch(
      /export PGROUTE_PRIMARY_URL='postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/postgres'/,
    )
    expect(existsSync(stateFile)).toBe(true)
  })

  it('refuses a second up while the first runs', () => {
    const second = run('up')
    expect(second.code).toBe(1)
    expect(second.stderr).toContain('already running')
  })

  it('status prints role, LSNs and lag of each node without the password', () => {
    const password = /postgres:\/\/postgres:([^@]+)@/.exec(upOutput)?.[1]
    expect(password).toBeTruthy()
    const text = run('status')
    expect(text.code).toBe(0)
    const lines = text.stdout.trim().split('\n')
    expect(lines[0]).toMatch(
      /^NODE\s+ROLE\s+ADDRESS\s+STATE\s+CURRENT LSN\s+RECEIVE LSN\s+REPLAY LSN\s+LAG BYTES/,
    )
    expect(lines[1]).toMatch(/^primary\s+primary\s+127\.0\.0\.1:\d+\s+read-write\s+[0-9A-F]+\/[0-9A-F]+/)
    expect(lines[2]).toMatch(/^replica-1\s+replica\s+127\.0\.0\.1:\d+\s+recovery\s+-\s+[0-9A-F]+\/[0-9A-F]+/)
    expect(text.stdout).not.toContain(password)
    const json = run('status', '--json')
    expect(json.stdout).not.toContain(password)
    const status = JSON.parse(json.stdout) as {
      nodes: { name: string; inRecovery: boolean; lagBytes?: number }[]
    }
    expect(status.nodes.map((node) => [node.name, node.inRecovery])).toEqual([
      ['primary', false],
      ['replica-1', true],
      ['replica-2', true],
    ])
    expect(typeof status.nodes[1]?.lagBytes).toBe('number')
  })

  it('down stops the owner and every server', async () => {
    const dataDir = /^Data: (\S+)/m.exec(upOutput)?.[1]
    expect(dataDir && clusterProcesses(dataDir).length).toBeGreaterThan(0)
    const result = run('down')
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('Stopped the cluster')
    expect(await ownerExit).toBe(0)
    expect(clusterProcesses(dataDir!)).toEqual([])
    expect(existsSync(dataDir!)).toBe(false)
    expect(existsSync(stateFile)).toBe(false)
    expect(run('status').code).toBe(1)
  })
})
