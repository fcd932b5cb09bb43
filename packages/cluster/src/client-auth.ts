import { createHash } from 'node:crypto'
import { chown, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { scramVerifier } from './scram-verifier.js'
import type { ServerUser } from './server-user.js'
import type { TlsFiles } from './tls-certificates.js'

/**
 * How clients log in to the nodes (`pg_hba.conf`): `scram-sha-256` (default), `md5` (the password stored as an MD5
 * hash, so the server really asks for MD5), `trust` (no password: the URLs carry none) or `cert` (a client
 * certificate signed by the cluster's CA whose common name is the user; implies TLS, the URLs name the files).
 */
export type AuthMethod = 'scram-sha-256' | 'md5' | 'trust' | 'cert'

export const authMethods: readonly AuthMethod[] = ['scram-sha-256', 'md5', 'trust', 'cert']

/**
 * `pg_hba.conf` for TCP on 127.0.0.1: client connections with `auth` (over TLS only when `tls`), replication
 * connections with the same password method, or `trust` when clients use no password (`trust`, `cert`).
 */
export function hbaConf(auth: AuthMethod, tls: boolean): string {
  const host = tls ? 'hostssl' : 'host'
  const replication = auth === 'cert' ? 'trust' : auth
  return (
    '# Written by @pgroute/cluster\n' +
    `${host} all all 127.0.0.1/32 ${auth}\n` +
    `${host} replication all 127.0.0.1/32 ${replication}\n`
  )
}

/** Writes {@link hbaConf} into a data directory, owned by the server account. */
export async function writeHbaConf(
  dataDir: string,
  auth: AuthMethod,
  tls: boolean,
  user: ServerUser | undefined,
): Promise<void> {
  const file = path.join(dataDir, 'pg_hba.conf')
  await writeFile(file, hbaConf(auth, tls), { mode: 0o600 })
  if (user) await chown(file, user.uid, user.gid)
}

/**
 * The value `ALTER ROLE ... PASSWORD` stores: a SCRAM verifier, or the MD5 hash for `md5` (with a SCRAM verifier
 * the server would answer an `md5` line with SCRAM). Never the clear-text password.
 */
export function storedPassword(auth: AuthMethod, role: string, password: string): string {
  if (auth === 'md5')
    return `md5${createHash('md5')
      .update(password + role)
      .digest('hex')}`
  return scramVerifier(password)
}

/** Whether clients send a password with `auth` (the URLs carry one). */
export function usesPassword(auth: AuthMethod): boolean {
  return auth === 'scram-sha-256' || auth === 'md5'
}

/** Server settings for TLS with `files`. */
export function tlsSettings(files: TlsFiles): Record<string, string> {
  return {
    ssl: 'on',
    ssl_cert_file: files.serverCert,
    ssl_key_file: files.serverKey,
    ssl_ca_file: files.caCert,
  }
}

/** The query of the nodes' URLs: `sslmode=verify-full` with the CA, and the client certificate for `cert`. */
export function tlsUrlParameters(auth: AuthMethod, files: TlsFiles): string {
  const parameters = new URLSearchParams({ sslmode: 'verify-full', sslrootcert: files.caCert })
  if (auth === 'cert') {
    parameters.set('sslcert', files.clientCert)
    parameters.set('sslkey', files.clientKey)
  }
  return parameters.toString()
}
