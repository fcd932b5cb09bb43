import { chown, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { loopback } from './free-port.js'
import type { ServerUser } from './server-user.js'

/** Settings a node's configuration file holds, as name -> value (every value is written quoted). */
export type Settings = Readonly<Record<string, string | number>>

/**
 * Cluster-wide settings. Durability is traded for speed (fsync off): a server crash (`stop({ mode: 'immediate' })`)
 * is still safe because the OS keeps the written data; only an OS crash could corrupt these throw-away clusters.
 */
export function clusterSettings(replicas: number, extra: Settings): Settings {
  const senders = Math.max(10, replicas * 2 + 4)
  return {
    listen_addresses: loopback,
    unix_socket_directories: '',
    wal_level: 'replica',
    max_wal_senders: senders,
    max_replication_slots: senders,
    wal_keep_size: '512MB',
    hot_standby: 'on',
    hot_standby_feedback: 'off',
    // Replicas report their positions every second, so pg_stat_replication is fresh, and reconnect quickly.
    wal_receiver_status_interval: '1s',
    wal_retrieve_retry_interval: '200ms',
    fsync: 'off',
    synchronous_commit: 'on',
    log_line_prefix: '%m [%p] ',
    ...extra,
  }
}

/** Settings of the primary node. */
export function primarySettings(node: {
  port: number
  clusterName: string
  synchronous: string[]
  /** `FIRST` (default) or `ANY`. */
  synchronousMethod?: 'first' | 'any'
  /** How many of `synchronous` a commit waits for (default all; capped at their number). */
  synchronousCount?: number
}): Settings {
  const settings: Record<string, string | number> = { port: node.port, cluster_name: node.clusterName }
  if (node.synchronous.length > 0) {
    const names = node.synchronous.map((name) => `"${name}"`).join(', ')
    const count = Math.min(node.synchronousCount ?? node.synchronous.length, node.synchronous.length)
    const method = node.synchronousMethod === 'any' ? 'ANY' : 'FIRST'
    settings.synchronous_standby_names = `${method} ${count} (${names})`
  }
  return settings
}

/** What a replica needs to stream from its primary. */
export interface ReplicaSettingsInput {
  readonly port: number
  readonly clusterName: string
  readonly primaryPort: number
  readonly user: string
  readonly password: string
  readonly applicationName: string
  readonly slot: string
  readonly applyDelayMs: number
  /** `recovery_target_timeline`. Default `latest`. */
  readonly recoveryTargetTimeline?: 'latest' | 'current'
}

/** Settings of a replica node. */
export function replicaSettings(node: ReplicaSettingsInput): Settings {
  return {
    port: node.port,
    cluster_name: node.clusterName,
    primary_conninfo: conninfo({
      host: loopback,
      port: String(node.primaryPort),
      user: node.user,
      password: node.password,
      application_name: node.applicationName,
    }),
    primary_slot_name: node.slot,
    recovery_min_apply_delay: `${node.applyDelayMs}ms`,
    recovery_target_timeline: node.recoveryTargetTimeline ?? 'latest',
  }
}

/** Writes a configuration file into a data directory, readable only by the server user. */
export async function writeSettings(
  dataDir: string,
  file: string,
  settings: Settings,
  user: ServerUser | undefined,
): Promise<void> {
  const lines = Object.entries(settings).map(([name, value]) => `${name} = ${confQuote(String(value))}`)
  const target = path.join(dataDir, file)
  await writeFile(target, `# Written by @pgroute/cluster\n${lines.join('\n')}\n`, { mode: 0o600 })
  if (user) await chown(target, user.uid, user.gid)
}

/** Quotes a value for postgresql.conf: single quotes are doubled, backslashes escaped. */
export function confQuote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`
}

/** A libpq connection string (as for `primary_conninfo`) with every value quoted. */
export function conninfo(values: Readonly<Record<string, string>>): string {
  return Object.entries(values)
    .map(([key, value]) => `${key}='${value.replace(/[\\']/g, '\\$&')}'`)
    .join(' ')
}
