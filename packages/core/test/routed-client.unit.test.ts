import { EventEmitter } from 'node:events'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRouter, type Router } from '../src/index.js'
import { reopenClient } from '../src/internal.js'

let router: Router

beforeAll(() => {
  // Never connected to: these clients run no statement that reaches a server.
  router = createRouter({ primary: 'postgres://app@127.0.0.1:1/app' })
})

afterAll(async () => {
  await router.end()
})

describe('a RoutedClient as an EventEmitter', () => {
  it('is one, with listeners of its own, before any listener and after', async () => {
    const [a, b] = [await router.connect(), await router.connect()]
    try {
      expect(a).toBeInstanceOf(EventEmitter)
      expect(a.eventNames()).toEqual([])
      expect(a.listenerCount('x')).toBe(0)
      expect(a.emit('x')).toBe(false)
      expect(a.getMaxListeners()).toBe(EventEmitter.defaultMaxListeners)
      expect(() => a.emit('error', new Error('nobody listens'))).toThrow('nobody listens')

      const heard: unknown[] = []
      a.on('x', (value) => heard.push(['on', value]))
      a.once('x', (value) => heard.push(['once', value]))
      a.prependListener('x', (value) => heard.push(['first', value]))
      expect(a.emit('x', 1)).toBe(true)
      a.emit('x', 2)
      expect(heard).toEqual([
        ['first', 1],
        ['on', 1],
        ['once', 1],
        ['first', 2],
        ['on', 2],
      ])
      // Listeners are the client's own: another client has none.
      expect(b.listenerCount('x')).toBe(0)
      expect(b.emit('x', 3)).toBe(false)

      a.removeAllListeners('x')
      expect(a.listenerCount('x')).toBe(0)
      const notice = () => {}
      a.on('notice', notice)
      expect(a.listeners('notice')).toEqual([notice])
      a.off('notice', notice)
      expect(a.listenerCount('notice')).toBe(0)
    } finally {
      a.release()
      b.release()
    }
  })
})

describe('reopenClient', () => {
  it('starts a new checkout on a released client: it runs statements again and is released once more', async () => {
    const client = await router.connect()
    expect(reopenClient(client)).toBe(false) // not released
    client.release()
    await expect(client.query('SELECT 1')).rejects.toThrow(/released/)
    expect(reopenClient(client)).toBe(true)
    expect(client.role).toBeUndefined()
    client.release()
    expect(() => client.release()).toThrow(/already been released/)
  })

  it('refuses a client with a statement of its last checkout still running, or one with listeners', async () => {
    const busy = await router.connect()
    // The statement waits for the primary (never reachable here) when the client is released.
    const running = busy.query('SELECT 1')
    busy.release()
    expect(reopenClient(busy)).toBe(false)
    await expect(running).rejects.toThrow()
    expect(reopenClient(busy)).toBe(true)
    busy.release()

    const heard = await router.connect()
    heard.on('notice', () => {})
    heard.release()
    expect(reopenClient(heard)).toBe(false)
  })
})
