import Database from 'better-sqlite3';

export type Db = Database.Database;
export type Statement<P extends unknown[]> = Database.Statement<P>;

/**
 * Opens berth's metadata database (one SQLite file under the data root) in WAL mode.
 * Every subsystem owns its tables and creates them with `CREATE TABLE IF NOT EXISTS` in its own
 * `migrate(db)` function, called from cmd/. One transaction per state change: a crash leaves either
 * the old or the new state, never half of one.
 */
export function openDatabase(path: string): Db {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // NORMAL is durable across process crashes in WAL mode; only a power loss can drop the last commits.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  return db;
}
