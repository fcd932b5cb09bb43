import type pg from 'pg'

/** How long a connection's goodbye may take before its socket is destroyed. */
export const CLOSE_GRACE_MS = 1000

/**
 * Ends a pg client within `graceMs`, whatever its server does: `client.end()` sends Terminate and waits for the
 * server to close the socket, which a frozen server (SIGSTOP, a stalled machine) never does, so past the grace
 * the socket is destroyed. Never rejects.
 */
export async function endClient(client: pg.Client, graceMs = CLOSE_GRACE_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, graceMs)
    timer.unref()
  })
  try {
    const ended = await Promise.race([
      client.end().then(
        () => true,
        () => true,
      ),
      late.then(() => false),
    ])
    if (!ended)
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy()
  } finally {
    clearTimeout(timer)
  }
}
