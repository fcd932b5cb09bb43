/**
 * scripts/wal-s3.sh, the archive_command / restore_command of the walArchive option, run against the stand-in AWS
 * CLI of test/fixtures/fake-bin (S3 objects as files, with the SHA-256 check S3 makes on upload).
 */
import { spawnSync } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const fakeBin = fileURLToPath(new URL('./fixtures/fake-bin', import.meta.url))
const script = fileURLToPath(new URL('../scripts/wal-s3.sh', import.meta.url))
const segmentName = '000000010000000000000003'

let dir: string

function run(...args: string[]) {
  const result = spawnSync('bash', [join(dir, 'wal-s3.sh'), ...args], {
    encoding: 'utf8',
    env: { PATH: `${fakeBin}:${process.env.PATH}`, FAKE_AWS_DIR: join(dir, 'aws') },
  })
  return { status: result.status, stderr: result.stderr, stdout: result.stdout }
}

const stored = () => join(dir, 'aws/s3/test-bucket/wal', `${segmentName}.gz`)

describe('wal-s3.sh', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgroute-wal-s3-'))
    copyFileSync(script, join(dir, 'wal-s3.sh'))
    writeFileSync(
      join(dir, 'wal-s3.env'),
      'PGROUTE_WAL_BUCKET=test-bucket\nPGROUTE_WAL_PREFIX=wal\nPGROUTE_WAL_REGION=us-east-1\n',
    )
    mkdirSync(join(dir, 'aws'))
    // A WAL segment: some records, then zeros (what archive_timeout leaves in a closed segment).
    const segment = Buffer.alloc(1024 * 1024)
    segment.write('records of a WAL segment '.repeat(400))
    writeFileSync(join(dir, segmentName), segment)
  })

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('push stores the segment compressed under the prefix, and again succeeds for the same segment', () => {
    expect(run('push', join(dir, segmentName), segmentName)).toMatchObject({ status: 0, stderr: '' })
    const object = readFileSync(stored())
    expect(object.length).toBeLessThan(64 * 1024)
    expect(gunzipSync(object).equals(readFileSync(join(dir, segmentName)))).toBe(true)
    // The archiver retries a segment after a crash: the same content is archived already, which is success.
    expect(run('push', join(dir, segmentName), segmentName).status).toBe(0)
  })

  it('push refuses to overwrite a segment with other content', () => {
    const other = join(dir, 'other')
    writeFileSync(other, 'another server wrote this segment')
    const before = readFileSync(stored())
    const result = run('push', other, segmentName)
    expect(result.status).toBe(1)
    expect(result.stderr).toContain('exists with other content; not overwriting it')
    expect(readFileSync(stored()).equals(before)).toBe(true)
  })

  it('fetch restores the segment whole, and fails quietly for one not archived yet', () => {
    const target = join(dir, 'RECOVERYXLOG')
    expect(run('fetch', segmentName, target)).toMatchObject({ status: 0, stderr: '', stdout: '' })
    expect(readFileSync(target).equals(readFileSync(join(dir, segmentName)))).toBe(true)
    const missing = join(dir, 'missing')
    expect(run('fetch', '000000010000000000000004', missing)).toMatchObject({ status: 1, stderr: '' })
    expect(existsSync(missing)).toBe(false)
  })

  it('exits 2 on a wrong call', () => {
    expect(run('push', join(dir, segmentName)).status).toBe(2)
    expect(run('delete', segmentName, 'x').status).toBe(2)
  })
})
