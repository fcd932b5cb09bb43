import { createServer } from 'node:http'
import type { Router } from '@pgroute/core'
import express5 from 'express'
import express4 from 'express4'
import { expect, it } from 'vitest'
import { readYourWrites } from '../src/express.js'
import { call, describeFramework, type StartApp } from './helpers/framework-contract.js'
import { close, listen } from './helpers/harness.js'

type Express = typeof express5

/** The contract's routes and Express's own ways of answering, on Express `express`. */
function expressApp(express: Express, router: Router) {
  const app = express()
  // A middleware before this one wrapping the response's methods, as compression does.
  app.use((_req, res, next) => {
    const { write, end } = res
    res.write = function (this: typeof res, ...args: unknown[]) {
      return (write as (...a: unknown[]) => boolean).apply(this, args)
    } as typeof res.write
    res.end = function (this: typeof res, ...args: unknown[]) {
      return (end as (...a: unknown[]) => typeof res).apply(this, args)
    } as typeof res.end
    next()
  })
  app.use(readYourWrites({ router, cookie: true }))
  // Reads the body from the request's events before calling next(), as body parsers without async-context
  // support do (body-parser before 1.20, busboy through req.pipe()).
  app.post('/raw-session', (req, _res, next) => {
    req.on('data', () => {})
    req.on('end', () => next())
  })
  app.post('/raw-session', async (_req, res) => {
    res.json({ token: (await router.token()) ?? null })
  })
  app.use(express.json())
  app.post('/notes', async (req, res) => {
    const { rows } = await router.query('INSERT INTO notes (body) VALUES ($1) RETURNING id', [req.body.body])
    res.status(201).json({ id: rows[0]!.id })
  })
  app.get('/notes/:id', async (req, res) => {
    const { rows } = await router.query('SELECT body, inet_server_port() AS port FROM notes WHERE id = $1', [
      Number(req.params.id),
    ])
    if (rows[0]) res.json(rows[0])
    else res.status(404).json({ message: 'not found' })
  })
  app.all('/session', async (_req, res) => {
    res.json({ token: (await router.token()) ?? null })
  })
  app.get('/stream', async (_req, res) => {
    res.setHeader('content-type', 'text/plain')
    res.write('one,')
    await new Promise((resolve) => setTimeout(resolve, 10))
    res.write('two,')
    res.end('three')
  })
  app.get('/write-head', (_req, res) => {
    res.writeHead(203, { 'content-type': 'application/json' })
    res.end('{"explicit":true}')
  })
  app.get('/redirect', (_req, res) => res.redirect('/session'))
  app.post('/write-then-stream', async (_req, res) => {
    res.setHeader('content-type', 'text/plain')
    await router.query("INSERT INTO notes (body) VALUES ('streamed')")
    res.write('written')
    res.end()
  })
  app.get('/fails', () => {
    throw new Error('handler failed')
  })
  return app
}

function starter(express: Express): StartApp {
  return async ({ router }) => {
    const server = createServer(expressApp(express, router))
    const base = await listen(server)
    return { base, stop: () => close(server) }
  }
}

for (const [name, express] of [
  ['express 5', express5],
  ['express 4', express4 as unknown as Express],
] as const) {
  describeFramework(name, starter(express), ({ app }) => {
    it('keeps the session for a body read from request events before next()', async () => {
      const { token } = await call(app().base, '/notes', { body: { body: 'raw' } })
      const answer = await call(app().base, '/raw-session', { body: { raw: true }, token: token! })
      expect(answer.body).toEqual({ token })
    })

    it.each([
      ['a streamed answer (res.write)', '/stream', 200, 'one,two,three'],
      ['res.writeHead()', '/write-head', 203, { explicit: true }],
      ['a redirect', '/redirect', 302, expect.anything()],
    ])('answers %s with the token', async (_what, path, status, body) => {
      const { token } = await call(app().base, '/notes', { body: { body: path } })
      const answer = await call(app().base, path, { token: token! })
      expect(answer.status).toBe(status)
      expect(answer.body).toEqual(body)
      expect(answer.token).toBe(token)
      expect(answer.cookie).toMatch(/^pgroute-token=/)
    })

    it("answers a write made before the first byte with the write's token", async () => {
      const { token: before } = await call(app().base, '/notes', { body: { body: 'before' } })
      const answer = await call(app().base, '/write-then-stream', { method: 'POST', token: before! })
      expect(answer.body).toBe('written')
      expect(answer.token).not.toBe(before)
      const check = await call(app().base, '/session', { token: answer.token! })
      expect(check.body).toEqual({ token: answer.token })
    })

    it("answers the error handler's 500 with the token", async () => {
      const { token } = await call(app().base, '/notes', { body: { body: 'error' } })
      const answer = await call(app().base, '/fails', { token: token! })
      expect(answer.status).toBe(500)
      expect(answer.token).toBe(token)
    })
  })
}
