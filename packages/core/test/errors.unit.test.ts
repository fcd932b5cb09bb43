import { describe, expect, it } from 'vitest'
import { ConfigError, isConfigError, isPgRouteError, PgRouteError } from '../src/errors.js'

describe('PgRouteError and ConfigError', () => {
  it('carry a code, a cause and (ConfigError) the option path', () => {
    const cause = new Error('root')
    const error = new PgRouteError('PGROUTE_CLOSED', 'closed', { cause })
    expect(error).toBeInstanceOf(Error)
    expect(error).toMatchObject({ name: 'PgRouteError', code: 'PGROUTE_CLOSED', message: 'closed', cause })

    const config = new ConfigError('lag.maxBytes', 'expected a number')
    expect(config).toBeInstanceOf(PgRouteError)
    expect(config).toMatchObject({
      name: 'ConfigError',
      code: 'PGROUTE_INVALID_OPTION',
      option: 'lag.maxBytes',
      message: 'Invalid option `lag.maxBytes`: expected a number',
    })
  })

  it('guards recognise errors from any copy of the package (branded with Symbol.for)', () => {
    expect(isPgRouteError(new PgRouteError('PGROUTE_CLOSED', 'x'))).toBe(true)
    expect(isPgRouteError(new ConfigError('a', 'b'))).toBe(true)
    expect(isConfigError(new ConfigError('a', 'b'))).toBe(true)
    expect(isConfigError(new PgRouteError('PGROUTE_INVALID_OPTION', 'x'))).toBe(false)

    const foreign = Object.assign(new Error('from another copy'), { code: 'PGROUTE_CLOSED' })
    Object.defineProperty(foreign, Symbol.for('pgroute.error'), { value: true })
    expect(isPgRouteError(foreign)).toBe(true)
    expect(isConfigError(foreign)).toBe(false)
  })

  it('guards reject look-alikes and non-errors', () => {
    for (const value of [new Error('x'), { code: 'PGROUTE_CLOSED' }, null, undefined, 'PgRouteError', 1]) {
      expect(isPgRouteError(value)).toBe(false)
      expect(isConfigError(value)).toBe(false)
    }
  })
})
