import { describe, expect, it } from 'vitest'
import { parseTimelineHistory } from '../src/health/timeline-history.js'

describe('parseTimelineHistory', () => {
  it('reads where each ancestor timeline ended, as PostgreSQL 18 writes the file', () => {
    // pg_read_file('pg_wal/00000003.history') after two promotions.
    const text = '1\t0/1764708\tno recovery target specified\n\n2\t0/3000060\tno recovery target specified\n'
    expect(parseTimelineHistory(text)).toEqual(
      new Map([
        [1, 0x1764708n],
        [2, 0x3000060n],
      ]),
    )
  })

  it('skips comments, blank and malformed lines', () => {
    const text = '# comment\n\n1\t0/10\tok\nx\t0/20\tbad\n3\tnot-an-lsn\tbad\n'
    expect(parseTimelineHistory(text)).toEqual(new Map([[1, 0x10n]]))
  })
})
