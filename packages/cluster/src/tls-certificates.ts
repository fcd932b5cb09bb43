import { execFile } from 'node:child_process'
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { ClusterError } from './cluster-error.js'
import type { ServerUser } from './server-user.js'
import { systemBinary, systemBinaryMissing } from './system-binary.js'

/** The files of a throw-away certificate authority and the certificates it signed. */
export interface TlsFiles {
  /** The CA's certificate: the `sslrootcert` clients verify the servers with, the servers' `ssl_ca_file`. */
  readonly caCert: string
  /** The servers' certificate (subject alternative names `IP:127.0.0.1`, `DNS:localhost`) and key. */
  readonly serverCert: string
  readonly serverKey: string
  /** A client certificate whose common name is the cluster's user (for `cert` authentication), and its key. */
  readonly clientCert: string
  readonly clientKey: string
}

/** Why TLS clusters cannot be made here (no `openssl`), or `undefined` when they can. */
export function tlsUnavailable(): string | undefined {
  return systemBinaryMissing('openssl')
}

/**
 * Makes a throw-away CA (valid 2 days) and, signed by it, a server certificate for the loopback address and a
 * client certificate for `user`, with the system's `openssl`, in `dir`. The server key belongs to the server account
 * (PostgreSQL refuses a key others can read); every key has mode 0600.
 */
export async function createTlsFiles(
  dir: string,
  user: string,
  owner: ServerUser | undefined,
): Promise<TlsFiles> {
  const openssl = systemBinary('openssl')
  if (!openssl) throw new ClusterError('PGROUTE_CLUSTER_BINARIES_NOT_FOUND', tlsUnavailable()!)
  await mkdir(dir, { recursive: true, mode: 0o755 })
  const file = (name: string) => path.join(dir, name)
  const run = (args: readonly string[]) => runOpenssl(openssl, args)
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await run([
    'req',
    '-x509',
    ...key,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=pgroute throw-away test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ])
  const sign = async (name: string, subject: string, extensions: string) => {
    await run([
      'req',
      '-new',
      ...key,
      '-keyout',
      file(`${name}.key`),
      '-out',
      file(`${name}.csr`),
      '-subj',
      subject,
    ])
    await writeFile(file(`${name}.ext`), extensions)
    await run([
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file(`${name}.crt`),
      '-days',
      '2',
      '-extfile',
      file(`${name}.ext`),
    ])
  }
  await sign(
    'server',
    '/CN=127.0.0.1',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  )
  await sign(
    'client',
    `/CN=${user}`,
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
  )
  for (const name of ['ca.key', 'server.key', 'client.key']) await chmod(file(name), 0o600)
  if (owner) await chown(file('server.key'), owner.uid, owner.gid)
  return {
    caCert: file('ca.crt'),
    serverCert: file('server.crt'),
    serverKey: file('server.key'),
    clientCert: file('client.crt'),
    clientKey: file('client.key'),
  }
}

function runOpenssl(openssl: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(openssl, [...args], { timeout: 30_000 }, (error, _stdout, stderr) => {
      if (error) {
        reject(
          new ClusterError(
            'PGROUTE_CLUSTER_START_FAILED',
            `openssl ${args[0]} failed: ${stderr || error.message}`,
            {
              cause: error,
            },
          ),
        )
      } else resolve()
    })
  })
}
