import type { PostgresCursorConstructor } from 'kysely'

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND'
}

/**
 * pg-cursor's `Cursor` class if the package can be loaded, else `null` (streaming then fails with an error saying
 * how to enable it). Loaded on first use, so applications that never stream need not install it.
 */
export async function loadCursor(): Promise<PostgresCursorConstructor | null> {
  try {
    const module = (await import('pg-cursor')) as { default?: unknown }
    return (module.default ?? module) as PostgresCursorConstructor
  } catch (error) {
    if (isModuleNotFound(error)) return null
    throw error
  }
}
