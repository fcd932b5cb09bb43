import { createServer, type Server } from 'node:http'
import { isToken } from '@pgroute/core'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readYourWrites } from '../src/express.js'
import { close, type Harness, listen, startHarness } from './helpers/harness.js'

let h: Harness
let server: Server
let base: string

beforeAll(async () => {
  h = await startHarness()
  const { router } = h
  const app = express()
  app.use(readYourWrites({ router, cookie: true }))
  app.use(express.json())
  app.post('/notes', async (req, res) => {
    const { rows } = await router.query('INSERT INTO notes (body) VALUES ($1) RETURNING id', [req.body.body])
    res.status(201).json({ id: rows[0].id, inSession: (await router.token()) !== undefined })
  })
  app.get('/session', async (_req, res) => {
    res.json({ token: (await router.token()) ?? null })
  })
  server = createServer(app)
  base = await listen(server)
})

afterAll(async () => {
  if (server) await close(server)
  await h?.stop()
})

describe('express', () => {
  it('answers a write with a token', async () => {
    const response = await fetch(`${base}/notes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ body: 'hello' }),
    })
    expect(response.status).toBe(201)
    console.log(await response.clone().json(), [...response.headers])
    expect(isToken(response.headers.get('x-pgroute-token'))).toBe(true)
  })
})
