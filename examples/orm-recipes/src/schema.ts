/**
 * What every recipe's models map to: `notes`, a view of the table `note_rows` that adds `served_by`, the port of
 * the server that answered the statement (PostgreSQL updates a simple view's table, so the ORMs insert into it
 * too). `written_by` records the server that ran the INSERT. The other columns have a type whose parsing differs
 * between ORMs: `timestamp` and `timestamptz`, `interval`, an enum array, a range, `bigint`, `numeric`.
 */
export const SCHEMA = `
CREATE TYPE mood AS ENUM ('calm', 'glad', 'tense');
CREATE TABLE note_rows (
  id serial PRIMARY KEY,
  title text NOT NULL,
  written_at timestamp(3) NOT NULL DEFAULT '2024-03-10 01:30:00.125',
  seen_at timestamptz(3) NOT NULL DEFAULT '2024-03-10 01:30:00.125+00',
  pause interval NOT NULL DEFAULT '1 day 02:03:04',
  moods mood[] NOT NULL DEFAULT '{calm,tense}',
  span int4range NOT NULL DEFAULT '[1,10)',
  total bigint NOT NULL DEFAULT 9007199254740993,
  price numeric(12, 2) NOT NULL DEFAULT 1234.50,
  written_by integer NOT NULL DEFAULT inet_server_port()
);
CREATE VIEW notes AS SELECT note_rows.*, inet_server_port() AS served_by FROM note_rows;
`
