import { describe, expect, it } from 'vitest'
import { resolveOptions } from '../src/config/resolve-options.js'
import { isConfigError } from '../src/index.js'
import { loadOpenTelemetry } from '../src/observability/open-telemetry-loader.js'
import { RouterLog } from '../src/observability/router-logger.js'

const URL_A = 'postgres://app:Sup3r-S3cret-pw@127.0.0.1:5433/shop'
const noop = () => {}

function optionOf(options: Record<string, unknown>): string | undefined {
  try {
    resolveOptions({ primary: URL_A, ...options })
  } catch (error) {
    if (isConfigError(error)) return error.option
    throw error
  }
  return undefined
}

describe('the logger option', () => {
  it('takes a pino-compatible logger, console included', () => {
    expect(optionOf({ logger: console })).toBeUndefined()
    expect(
      optionOf({ logger: { debug: noop, info: noop, warn: noop, error: noop, child: noop } }),
    ).toBeUndefined()
  })

  it('names what is missing or wrong', () => {
    expect(optionOf({ logger: 'pino' })).toBe('logger')
    expect(optionOf({ logger: null })).toBe('logger')
    expect(optionOf({ logger: { debug: noop, info: noop, error: noop } })).toBe('logger.warn')
    expect(optionOf({ logger: { debug: noop, info: 1, warn: noop, error: noop } })).toBe('logger.info')
    expect(optionOf({ openTelemetry: 'yes' })).toBe('openTelemetry')
  })

  it('logs state changes at a level by state, and scrubs passwords from every text', () => {
    const lines: Array<[string, Record<string, unknown>, string]> = []
    const record = (level: string) => (fields: Record<string, unknown>, message: string) =>
      lines.push([level, fields, message])
    const log = new RouterLog(
      { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') },
      (text) => text.split('Sup3r-S3cret-pw').join('****'),
    )
    const event = { node: 'db-1', role: 'replica', from: 'up', reason: 'failed for Sup3r-S3cret-pw' } as const
    log.traceNodeState({ ...event, to: 'down' })
    log.traceNodeState({ ...event, to: 'lagging' })
    log.traceNodeState({ ...event, to: 'up' })
    log.traceReroute({
      from: 'db-1',
      reason: 'retry',
      statement: 'SELECT 1',
      error: Object.assign(new Error('boom Sup3r-S3cret-pw'), { code: '57P01' }),
    })
    expect(lines.map(([level]) => level)).toEqual(['error', 'warn', 'info', 'warn'])
    expect(lines[3]![1]).toMatchObject({ from: 'db-1', reason: 'retry', code: '57P01' })
    expect(JSON.stringify(lines)).not.toContain('Sup3r-S3cret-pw')
  })
})

describe('loading OpenTelemetry', () => {
  it('finds @opentelemetry/api when it is installed, once', () => {
    const api = loadOpenTelemetry()
    expect(typeof api?.metrics.getMeter).toBe('function')
    expect(loadOpenTelemetry()).toBe(api)
  })
})
