import type { Db } from '../sys/database';
import type { ContainerRecord } from './container';
import { conflict, notFound } from '../base/errors';

/**
 * Containers in SQLite: one row per container, the record as JSON plus the columns lookups need.
 * Every write is one statement or one transaction. Reads are served from an in-memory map kept in
 * step with the table, so `ps` never touches the disk.
 */
export class ContainerStore {
  private readonly byId = new Map<string, ContainerRecord>();
  private readonly insertStmt;
  private readonly updateStmt;
  private readonly deleteStmt;

  constructor(private readonly db: Db) {
    db.exec(`CREATE TABLE IF NOT EXISTS containers (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      created TEXT NOT NULL,
      record TEXT NOT NULL
    )`);
    this.insertStmt = db.prepare('INSERT INTO containers (id, name, created, record) VALUES (?, ?, ?, ?)');
    this.updateStmt = db.prepare('UPDATE containers SET name = ?, record = ? WHERE id = ?');
    this.deleteStmt = db.prepare('DELETE FROM containers WHERE id = ?');
    for (const row of db.prepare('SELECT record FROM containers ORDER BY created').all() as Array<{ record: string }>) {
      const rec = JSON.parse(row.record) as ContainerRecord;
      this.byId.set(rec.id, rec);
    }
  }

  /** All containers, newest first (the order of `ps`). */
  list(): ContainerRecord[] {
    return [...this.byId.values()].sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
  }

  get(id: string): ContainerRecord | undefined {
    return this.byId.get(id);
  }

  /** Resolves Docker's way: full ID, exact name (with or without `/`), then unique ID prefix. */
  resolve(idOrName: string): ContainerRecord {
    const found = this.find(idOrName);
    if (!found) throw notFound(`No such container: ${idOrName}`);
    return found;
  }

  find(idOrName: string): ContainerRecord | undefined {
    if (!idOrName) return undefined;
    const exact = this.byId.get(idOrName);
    if (exact) return exact;
    const name = idOrName.replace(/^\//, '');
    for (const c of this.byId.values()) if (c.name === name) return c;
    if (!/^[a-f0-9]+$/.test(idOrName)) return undefined;
    const matches = [...this.byId.values()].filter((c) => c.id.startsWith(idOrName));
    if (matches.length > 1) throw notFound(`No such container: ${idOrName} (multiple IDs match)`);
    return matches[0];
  }

  nameTaken(name: string): ContainerRecord | undefined {
    for (const c of this.byId.values()) if (c.name === name) return c;
    return undefined;
  }

  insert(rec: ContainerRecord): void {
    const holder = this.nameTaken(rec.name);
    if (holder) throw conflict(`Conflict. The container name "/${rec.name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    this.insertStmt.run(rec.id, rec.name, rec.created, JSON.stringify(rec));
    this.byId.set(rec.id, rec);
  }

  /** Persists the record as it now is (callers mutate the object they got, then save it). */
  save(rec: ContainerRecord): void {
    this.updateStmt.run(rec.name, JSON.stringify(rec), rec.id);
    this.byId.set(rec.id, rec);
  }

  delete(id: string): void {
    this.deleteStmt.run(id);
    this.byId.delete(id);
  }
}
