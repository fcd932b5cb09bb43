import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { invalidOption } from './cluster-error.js'

/** The OS account the servers run as. */
export interface ServerUser {
  readonly name: string
  readonly uid: number
  readonly gid: number
}

let cached: ServerUser | undefined | null = null

/**
 * The account to run PostgreSQL as: `nobody` when this process is root (postgres refuses to run as root),
 * otherwise `undefined`, meaning the current user.
 */
export function serverUser(): ServerUser | undefined {
  if (cached !== null) return cached
  cached = process.getuid?.() === 0 ? lookupNobody() : undefined
  return cached
}

function lookupNobody(): ServerUser {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid, gid] = line.split(':')
      if (name === 'nobody' && uid && gid) return { name, uid: Number(uid), gid: Number(gid) }
    }
  } catch {
    // No readable passwd file: fall back to the conventional ids below.
  }
  return { name: 'nobody', uid: 65534, gid: 65534 }
}

/** Spawn options that make a child process run as `user` (nothing when running as the current user). */
export function spawnIdentity(user: ServerUser | undefined): { uid?: number; gid?: number } {
  return user ? { uid: user.uid, gid: user.gid } : {}
}

/**
 * Throws an error naming `option` unless `user` can traverse every directory down to `dir` (postgres must reach
 * its data directory through them).
 */
export function assertReachable(dir: string, user: ServerUser | undefined, option: string): void {
  if (!user) return
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    const stat = statSync(current)
    const bit = stat.uid === user.uid ? 0o100 : stat.gid === user.gid ? 0o010 : 0o001
    if ((stat.mode & bit) === 0) {
      throw invalidOption(option, `the server runs as '${user.name}', which cannot enter ${current}`)
    }
    if (path.dirname(current) === current) return
  }
}
