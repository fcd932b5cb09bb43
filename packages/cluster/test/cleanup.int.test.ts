import { type ChildProcess, spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { startCluster } from '../src/index.js'
import { clusterProcesses, processesMatching } from './process-scan.js'

const fixture = path.join(import.meta.dirname, 'fixtures', 'cluster-owner.ts')
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

interface Owner {
  child: ChildProcess
  /** Everything the owner printed so far (stdout and stderr). */
  output: () => string
  dataDir: string
  pids: number[]
}

/** Starts a Node process that starts a cluster; resolves once the cluster runs. */
async function startOwner(mode: 'wait' | 'exit' | 'stop'): Promise<Owner> {
  const child = spawn(process.execPath, ['--import', tsxLoader, fixture, mode], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stderr?.on('data', (chunk) => (output += chunk))
  child.stdout?.on('data', (chunk) => (output += chunk))
  const line = await new Promise<string>((resolve, reject) => {
    let buffered = ''
    child.stdout?.on('data', (chunk) => {
      buffered += chunk
      if (buffered.includes('\n')) resolve(buffered.slice(0, buffered.indexOf('\n')))
    })
    child.once('exit', (code) => reject(new Error(`owner exited (${code}) before starting:\n${output}`)))
  })
  return { child, output: () => output, ...(JSON.parse(line) as { dataDir: string; pids: number[] }) }
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode })
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
}

describe('no server outlives its cluster', () => {
  it('cluster.stop() leaves no process of the cluster and removes its data', async () => {
    const cluster = await startCluster({
      replicas: 2,
      user: 'app',
      database: 'appdb',
      postgresConfig: { work_mem: '8MB', application_name: 'cleanup-test' },
    })
    const dataDir = cluster.dataDir!
    const { rows } = await cluster.replicas[1]!.query(
      `SELECT current_user AS "user", current_database() AS db, current_setting('work_mem') AS work_mem`,
    )
    expect(rows).toEqual([{ user: 'app', db: 'appdb', work_mem: '8MB' }])
    expect(cluster.replicas[1]!.url).toMatch(/^postgres:\/\/app:[^@]+@127\.0\.0\.1:\d+\/appdb$/)
    const running = clusterProcesses(dataDir)
    // Postmasters and their children (checkpointer, walsender, walreceiver, ...) are all found by the scan.
    for (const node of cluster.nodes) expect(running.map((p) => p.pid)).toContain(node.pid)
    expect(running.length).toBeGreaterThan(cluster.nodes.length * 3)
    await cluster.stop()
    expect(clusterProcesses(dataDir)).toEqual([])
    expect(existsSync(dataDir)).toBe(false)
    expect(cluster.stopped).toBe(true)
    await cluster.stop() // idempotent
    await expect(cluster.replicas[0]!.start()).rejects.toMatchObject({
      code: 'PGROUTE_CLUSTER_INVALID_STATE',
    })
  })

  it('an aborted start-up leaves nothing behind', async () => {
    const baseDir = mkdtempSync(path.join(os.tmpdir(), 'pgroute-abort-'))
    chmodSync(baseDir, 0o755) // The servers' user must be able to enter it.
    try {
      const controller = new AbortController()
      const logs: string[] = []
      const starting = startCluster({
        replicas: 2,
        baseDir,
        signal: controller.signal,
        // Abort once the primary is set up and servers are about to start.
        log: (entry) => {
          logs.push(entry.message)
          if (entry.message.startsWith('primary set up')) controller.abort(new Error('test abort'))
        },
      })
      await expect(starting).rejects.toMatchObject({ code: 'PGROUTE_CLUSTER_ABORTED' })
      expect(logs.some((line) => line.startsWith('primary set up'))).toBe(true)
      expect(processesMatching(baseDir)).toEqual([])
      expect(readdirSync(baseDir)).toEqual([])
    } finally {
      rmSync(baseDir, { recursive: true, force: true })
    }
  })

  it('keeps the data directories when asked to', async () => {
    const cluster = await startCluster({ replicas: 1, keep: true })
    await cluster.stop()
    expect(clusterProcesses(cluster.dataDir!)).toEqual([])
    expect(existsSync(path.join(cluster.dataDir!, 'replica-1', 'standby.signal'))).toBe(true)
    rmSync(cluster.dataDir!, { recursive: true, force: true })
  })

  it.each(['SIGTERM', 'SIGINT'] as const)('stops the servers of a process killed by %s', async (signal) => {
    const owner = await startOwner('wait')
    expect(clusterProcesses(owner.dataDir).map((p) => p.pid)).toEqual(expect.arrayContaining(owner.pids))
    owner.child.kill(signal)
    // The default behaviour is re-raised after the cleanup: the process dies of the signal.
    expect(await exitOf(owner.child)).toEqual({ code: null, signal })
    expect(clusterProcesses(owner.dataDir)).toEqual([])
    expect(existsSync(owner.dataDir)).toBe(false)
  })

  it('stops the servers of a process killed by SIGKILL (through its watchdog)', async () => {
    const owner = await startOwner('wait')
    const watchdogs = clusterProcesses(owner.dataDir).filter((p) =>
      p.cmdline.includes('pgroute-cluster-watchdog'),
    )
    expect(watchdogs).toHaveLength(1)
    owner.child.kill('SIGKILL')
    expect(await exitOf(owner.child)).toEqual({ code: null, signal: 'SIGKILL' })
    const deadline = Date.now() + 15_000
    while (
      (clusterProcesses(owner.dataDir).length > 0 || existsSync(owner.dataDir)) &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(clusterProcesses(owner.dataDir)).toEqual([])
    expect(existsSync(owner.dataDir)).toBe(false)
  })

  it('stops the servers of a process that exits without stopping its cluster', async () => {
    const owner = await startOwner('exit')
    expect(await exitOf(owner.child)).toEqual({ code: 0, signal: null })
    expect(clusterProcesses(owner.dataDir)).toEqual([])
    expect(existsSync(owner.dataDir)).toBe(false)
  })

  it('stop() settles in a script with nothing else to do (the watchdog cannot let the process exit early)', async () => {
    const owner = await startOwner('stop')
    expect(await exitOf(owner.child)).toEqual({ code: 0, signal: null })
    expect(owner.output()).toContain('stopped\n')
    expect(clusterProcesses(owner.dataDir)).toEqual([])
  })
})
