import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto'

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 7677, as `pg_authid.rolpassword`). Setting a
 * role's password to a verifier keeps the clear-text password out of SQL text and server logs.
 */
export function scramVerifier(password: string, iterations = 4096): string {
  const salt = randomBytes(16)
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256')
  const clientKey = createHmac('sha256', salted).update('Client Key').digest()
  const storedKey = createHash('sha256').update(clientKey).digest()
  const serverKey = createHmac('sha256', salted).update('Server Key').digest()
  const b64 = (buffer: Buffer) => buffer.toString('base64')
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`
}
