import pg from 'pg'
import { describe, expect, it } from 'vitest'
import {
  attributeError,
  isBusy,
  isConnectionError,
  isPoolTimeout,
  isReadOnlyRejection,
  isRefusedByPooler,
  isRetryableRead,
  isStandbyConflict,
} from '../src/pg-errors.js'

/** A server error exactly as pg builds it from an ErrorResponse message. */
function serverError(code: string, message: string): pg.DatabaseError {
  const error = new pg.DatabaseError(message, message.length, 'error')
  error.code = code
  error.severity = 'ERROR'
  return error
}

/** An error PgBouncer sends before it closes the client's connection: 08P01 with severity FATAL. */
function poolerError(message: string): pg.DatabaseError {
  const error = serverError('08P01', message)
  error.severity = 'FATAL'
  return error
}

function socketError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -111, syscall: 'connect' })
}

const examples = {
  refused: socketError('ECONNREFUSED'),
  reset: socketError('ECONNRESET'),
  pipe: socketError('EPIPE'),
  unexpectedEnd: new Error('Connection terminated unexpectedly'),
  connectTimeout: new Error('Connection terminated due to connection timeout'),
  clientError: new Error('Client has encountered a connection error and is not queryable'),
  adminShutdown: serverError('57P01', 'terminating connection due to administrator command'),
  crashShutdown: serverError('57P02', 'terminating connection because of crash of another server process'),
  startingUp: serverError('57P03', 'the database system is starting up'),
  connectionFailure: serverError('08006', 'connection failure'),
  // PgBouncer, when the server behind it died under a statement, or while it refuses logins to a server that failed.
  poolerServerCrashed: poolerError('server conn crashed?'),
  poolerLoginRetry: poolerError('server login has been failing, try again later (server_login_retry)'),
  recoveryConflict: serverError('40001', 'canceling statement due to conflict with recovery'),
  recoveryDeadlock: serverError('40P01', 'canceling statement due to conflict with recovery'),
  databaseDropped: serverError('57P04', 'terminating connection due to conflict with recovery'),
  idleSessionTimeout: serverError('57P05', 'terminating connection due to idle-session timeout'),
  readOnly: serverError('25006', 'cannot execute INSERT in a read-only transaction'),
  nextvalReadOnly: serverError('25006', 'cannot execute nextval() in a read-only transaction'),
  inRecovery: serverError('55000', 'recovery is in progress'),
  noTxIds: serverError('XX000', 'cannot assign TransactionIds during recovery'),
  poolTimeout: new Error('timeout exceeded when trying to connect'),
  uniqueViolation: serverError('23505', 'duplicate key value violates unique constraint "t_pkey"'),
  undefinedTable: serverError('42P01', 'relation "missing" does not exist'),
  serialization: serverError('40001', 'could not serialize access due to concurrent update'),
  deadlock: serverError('40P01', 'deadlock detected'),
  syntax: serverError('42601', 'syntax error at or near "SELEC"'),
  queryCanceled: serverError('57014', 'canceling statement due to statement timeout'),
  // Server errors quoting caller input: the message says nothing about the node.
  quotesTerminated: serverError('22P02', 'invalid input syntax for type integer: "Connection terminated"'),
  quotesTimeout: serverError('22P02', 'invalid input syntax for type integer: "timeout expired"'),
  quotesRecovery: serverError('22P02', 'invalid input syntax for type integer: "recovery is in progress"'),
  nulByte: serverError('08P01', 'invalid message format'),
  tooManyClients: serverError('53300', 'sorry, too many clients already'),
  roleLimit: serverError('53400', 'too many connections for role "app"'),
  pgQueryTimeout: new Error('Query read timeout'),
  plain: new Error('something else'),
}
type Example = keyof typeof examples

function matching(predicate: (error: unknown) => boolean): Example[] {
  return (Object.keys(examples) as Example[]).filter((name) => predicate(examples[name]))
}

describe('error classification', () => {
  it('connection errors: sockets, servers ending connections (57P0x), connection exceptions (08xxx; 08P01 only FATAL)', () => {
    // The driver's code-less errors are not among them: their text counts only with their origin (below).
    expect(matching(isConnectionError)).toEqual([
      'refused',
      'reset',
      'pipe',
      'adminShutdown',
      'crashShutdown',
      'startingUp',
      'connectionFailure',
      'poolerServerCrashed',
      'poolerLoginRetry',
      'databaseDropped',
      'idleSessionTimeout',
    ])
  })

  it("the driver's own texts count for an error of connecting, or of a client that is broken", () => {
    const brokenClient = { _queryable: false, _ending: false, _ended: false }
    const endedClient = { _queryable: true, _ending: true, _ended: true }
    const healthyClient = { _queryable: true, _ending: false, _ended: false }
    for (const name of ['unexpectedEnd', 'connectTimeout', 'clientError'] as const) {
      expect(isConnectionError(new Error(examples[name].message), 'connect'), name).toBe(true)
      expect(isConnectionError(new Error(examples[name].message), brokenClient), name).toBe(true)
      expect(isConnectionError(new Error(examples[name].message), endedClient), name).toBe(true)
      expect(isConnectionError(new Error(examples[name].message), healthyClient), name).toBe(false)
    }
    // pg-pool's error of an idle connection carries its client.
    expect(
      isConnectionError(
        Object.assign(new Error('Connection terminated unexpectedly'), { client: brokenClient }),
      ),
    ).toBe(true)
  })

  it('a type parser (or a callback) throwing the same words on a healthy connection is not a connection error', () => {
    const thrown = new Error('Connection terminated: cannot parse stored value')
    const healthyClient = { _queryable: true, _ending: false, _ended: false }
    expect(isConnectionError(thrown, healthyClient)).toBe(false)
    expect(isConnectionError(thrown)).toBe(false)
    expect(isRetryableRead(thrown)).toBe(false)
  })

  it('a judgement with the origin is remembered for the same error object (a later judge has no client)', () => {
    const error = new Error('Connection terminated unexpectedly')
    expect(isConnectionError(error)).toBe(false)
    attributeError(error, { _queryable: false })
    expect(isConnectionError(error)).toBe(true)
    expect(isRetryableRead(error)).toBe(true)
  })

  it("PgBouncer's refusals before any server had the statement: the exact texts, with 08P01 and severity FATAL only", () => {
    expect(isRefusedByPooler(examples.poolerLoginRetry)).toBe(true)
    expect(isRefusedByPooler(poolerError('query_wait_timeout'))).toBe(true)
    // The server behind PgBouncer died under the statement: it may have run.
    expect(isRefusedByPooler(examples.poolerServerCrashed)).toBe(false)
    // The same words as an ordinary statement error, or quoted in a longer one, or without a server's severity.
    const quoted = serverError('08P01', 'server login has been failing, try again later (server_login_retry)')
    expect(isRefusedByPooler(quoted)).toBe(false)
    expect(isRefusedByPooler(poolerError('query_wait_timeout exceeded by value query_wait_timeout'))).toBe(
      false,
    )
    expect(
      isRefusedByPooler(new Error('server login has been failing, try again later (server_login_retry)')),
    ).toBe(false)
    expect(isRefusedByPooler(examples.adminShutdown)).toBe(false)
    expect(isRefusedByPooler(undefined)).toBe(false)
  })

  it('busy nodes: no connection slot on the server, or none in the pool in time', () => {
    expect(matching(isBusy)).toEqual(['poolTimeout', 'tooManyClients', 'roleLimit'])
  })

  it('standby conflicts: only recovery conflicts, not ordinary serialization failures or deadlocks', () => {
    expect(matching(isStandbyConflict)).toEqual(['recoveryConflict', 'recoveryDeadlock', 'databaseDropped'])
  })

  it('read-only rejections: 25006 and errors of a server in recovery', () => {
    expect(matching(isReadOnlyRejection)).toEqual(['readOnly', 'nextvalReadOnly', 'inRecovery', 'noTxIds'])
  })

  it('pool timeouts', () => {
    expect(matching(isPoolTimeout)).toEqual(['poolTimeout'])
  })

  it('retryable reads: connection errors, standby conflicts and pool timeouts, never user errors', () => {
    const retryable = matching(isRetryableRead)
    expect(retryable).toEqual([
      'refused',
      'reset',
      'pipe',
      'adminShutdown',
      'crashShutdown',
      'startingUp',
      'connectionFailure',
      'poolerServerCrashed',
      'poolerLoginRetry',
      'recoveryConflict',
      'recoveryDeadlock',
      'databaseDropped',
      'idleSessionTimeout',
      'poolTimeout',
      'tooManyClients',
      'roleLimit',
      'pgQueryTimeout',
    ])
    for (const name of [
      'quotesTerminated',
      'quotesTimeout',
      'quotesRecovery',
      'nulByte',
      'uniqueViolation',
      'undefinedTable',
      'serialization',
      'deadlock',
      'syntax',
      'queryCanceled',
    ] as const) {
      expect(isRetryableRead(examples[name]), name).toBe(false)
    }
  })

  it('copes with values that are not errors', () => {
    for (const value of [undefined, null, 'ECONNREFUSED', 42, { code: 42 }, { message: 7 }]) {
      expect(isConnectionError(value)).toBe(false)
      expect(isStandbyConflict(value)).toBe(false)
      expect(isReadOnlyRejection(value)).toBe(false)
      expect(isRetryableRead(value)).toBe(false)
    }
  })
})
