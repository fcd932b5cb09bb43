import { existsSync } from 'node:fs'
import path from 'node:path'

/** Directories searched after `PATH`: Debian installs daemons (pgbouncer, haproxy) under the `sbin` ones. */
const sbinDirs = ['/usr/local/sbin', '/usr/sbin', '/sbin']

/**
 * The path of an executable of the operating system (a Debian package's `pgbouncer`, `haproxy`, `openssl`), found
 * on `PATH` or in the `sbin` directories, or `undefined` when it is not installed.
 */
export function systemBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...sbinDirs]
  for (const dir of dirs) {
    if (dir === '') continue
    const candidate = path.join(dir, name)
    if (existsSync(candidate)) return candidate
  }
  return undefined
}

/**
 * Why `name` cannot run here (`"pgbouncer not installed (Debian: apt-get install pgbouncer)"`), or `undefined` when
 * it can: the reason a test or a chaos row that needs it is skipped with.
 */
export function systemBinaryMissing(name: string, debianPackage = name): string | undefined {
  return systemBinary(name) ? undefined : `${name} not installed (Debian: apt-get install ${debianPackage})`
}
