import { isConfigError } from '@pgroute/core'
import { describe, expect, it } from 'vitest'
import type { ReadYourWritesOptions } from '../src/read-your-writes-options.js'
import { cookieValue, invalidTokenBody, requestTokens } from '../src/request-tokens.js'
import { resolveOptions } from '../src/resolve-options.js'
import { answerHeaders } from '../src/response-token.js'

/** Only its shape is checked: the options never call it. */
const router = { session: async () => undefined, token: async () => undefined, openSession() {} } as never
const TOKEN = '0/3000060@1'

function configError(options: unknown): { option: string; message: string } {
  try {
    resolveOptions(options as ReadYourWritesOptions)
  } catch (error) {
    if (isConfigError(error)) return { option: error.option, message: error.message }
    throw error
  }
  throw new Error('expected a ConfigError')
}

describe('resolveOptions', () => {
  it('defaults to the x-pgroute-token header and no cookie', () => {
    const resolved = resolveOptions({ router })
    expect(resolved.header).toBe('x-pgroute-token')
    expect(resolved.cookie).toBeUndefined()
    expect(answerHeaders(resolved, TOKEN)).toEqual([['x-pgroute-token', TOKEN]])
  })

  it('serializes the cookie with safe defaults, or as configured', () => {
    expect(answerHeaders(resolveOptions({ router, header: false, cookie: true }), TOKEN)).toEqual([
      ['set-cookie', `pgroute-token=${TOKEN}; Path=/; HttpOnly; SameSite=Lax`],
    ])
    const custom = resolveOptions({
      router,
      header: 'X-Read-After',
      cookie: {
        name: 'ryw',
        path: '/api',
        domain: 'example.com',
        maxAge: 60,
        secure: true,
        sameSite: 'none',
      },
    })
    expect(answerHeaders(custom, TOKEN)).toEqual([
      ['x-read-after', TOKEN],
      [
        'set-cookie',
        `ryw=${TOKEN}; Path=/api; Domain=example.com; Max-Age=60; HttpOnly; Secure; SameSite=None`,
      ],
    ])
    expect(answerHeaders(resolveOptions({ router, cookie: { httpOnly: false } }), TOKEN)[1]).toEqual([
      'set-cookie',
      `pgroute-token=${TOKEN}; Path=/; SameSite=Lax`,
    ])
  })

  it.each([
    [undefined, 'options'],
    [{}, 'router'],
    [{ router: { session() {} } }, 'router'],
    [{ router: { session() {}, token() {} } }, 'router'],
    [{ router, header: 'x token' }, 'header'],
    [{ router, header: '' }, 'header'],
    [{ router, header: false }, 'header'],
    [{ router, cookie: 'bad name' }, 'cookie.name'],
    [{ router, cookie: 7 }, 'cookie'],
    [{ router, cookie: { path: '/a;b' } }, 'cookie.path'],
    [{ router, cookie: { domain: 'a b' } }, 'cookie.domain'],
    [{ router, cookie: { maxAge: -1 } }, 'cookie.maxAge'],
    [{ router, cookie: { maxAge: 1.5 } }, 'cookie.maxAge'],
    [{ router, cookie: { secure: 'yes' } }, 'cookie.secure'],
    [{ router, cookie: { sameSite: 'loose' } }, 'cookie.sameSite'],
    [{ router, cookie: { sameSite: 'none' } }, 'cookie.sameSite'],
    [{ router, sources: [() => undefined, 'x'] }, 'sources'],
    [{ router, baseline: 'not a token' }, 'baseline'],
    [{ router, onTokenError: true }, 'onTokenError'],
  ])('rejects %j naming %s', (options, option) => {
    expect(configError(options).option).toBe(option)
  })
})

describe('requestTokens', () => {
  const headers =
    (values: Record<string, string | string[]>) =>
    (name: string): string | string[] | undefined =>
      values[name]

  it('collects the baseline, the header, the cookie and other sources, in that order', () => {
    const fromBaggage = () => '0/5@1'
    const resolved = resolveOptions({ router, cookie: true, baseline: '0/1@1', sources: [fromBaggage] })
    const tokens = requestTokens(
      resolved,
      headers({ 'x-pgroute-token': '0/2@1', cookie: 'a=b; pgroute-token=0/3@1' }),
    )
    expect(tokens).toEqual([
      { token: '0/1@1', from: undefined },
      { token: '0/2@1', from: 'x-pgroute-token header' },
      { token: '0/3@1', from: 'pgroute-token cookie' },
      { token: '0/5@1', from: 'token from fromBaggage' },
    ])
  })

  it('takes an empty value for no token, and a repeated header for a malformed one', () => {
    const resolved = resolveOptions({ router })
    expect(requestTokens(resolved, headers({ 'x-pgroute-token': '  ' }))).toEqual([])
    const [repeated] = requestTokens(resolved, headers({ 'x-pgroute-token': ['0/1@1', '0/2@1'] }))
    expect(repeated?.token).toBe('0/1@1, 0/2@1')
    expect(invalidTokenBody([repeated!])?.message).toBe(
      "Invalid x-pgroute-token header: expected a token from an earlier response, like '0/3000060@1'",
    )
  })

  it("does not blame the client for the app's own baseline", () => {
    expect(invalidTokenBody([{ token: 'bad', from: undefined }])).toBeUndefined()
  })
})

describe('cookieValue', () => {
  it.each([
    ['pgroute-token=0/1@1', '0/1@1'],
    ['a=1;pgroute-token=0/1@1;b=2', '0/1@1'],
    ['a=1; pgroute-token="0/1@1"', '0/1@1'],
    ['xpgroute-token=0/1@1', undefined],
    ['pgroute-token=0/1@1; pgroute-token=0/2@1', '0/1@1'],
    ['pgroute-token=', undefined],
    ['', undefined],
  ])('reads %j as %j', (header, value) => {
    expect(cookieValue(header, 'pgroute-token')).toBe(value)
  })
})
