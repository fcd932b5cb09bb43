import { ConfigError } from '../errors.js'

/** `scheme://` + authority + the rest (path, query, fragment): the authority holds the host list. */
const URL_PARTS = /^(postgres(?:ql)?:\/\/)([^/?#]*)(.*)$/is
/** `host`, `host:port`, `[v6]` or `[v6]:port`. */
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]@/\s]+)(?::(\d{1,5}))?$/

/**
 * Splits a libpq multi-host connection URL (`postgres://user:pass@h1:5432,h2:5433/app?sslmode=require`) into one
 * URL per host, each with the shared user, password, database and options. Returns `undefined` for anything with
 * a single host (or not URL-shaped), which is used as it is. Throws a {@link ConfigError} naming `option` (never
 * the password) when the host list is malformed.
 */
export function splitHosts(connectionString: string, option: string): string[] | undefined {
  const parts = URL_PARTS.exec(connectionString.trim())
  if (!parts) return undefined
  const [, scheme, authority, rest] = parts as unknown as [string, string, string, string]
  const at = authority.lastIndexOf('@')
  const userInfo = at === -1 ? '' : authority.slice(0, at + 1)
  const hostList = authority.slice(at + 1)
  if (!hostList.includes(',')) return undefined
  return hostList.split(',').map((entry, i) => {
    const match = HOST_PORT.exec(entry.trim())
    const port = match?.[2] === undefined ? undefined : Number(match[2])
    if (!match || (port !== undefined && (port < 1 || port > 65_535))) {
      throw new ConfigError(
        option,
        `host ${i + 1} of the multi-host connection string is not \`host\` or \`host:port\` (got ${JSON.stringify(entry.slice(0, 100))})`,
      )
    }
    const url = `${scheme}${userInfo}${match[1]}${port === undefined ? '' : `:${port}`}${rest}`
    if (!URL.canParse(url)) {
      throw new ConfigError(
        option,
        `host ${i + 1} of the multi-host connection string does not make a valid URL`,
      )
    }
    return url
  })
}
