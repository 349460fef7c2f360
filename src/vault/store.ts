/**
 * The vault on disk: one encrypted store per session.
 *
 *   <root>/                       0700   default $CORDON_VAULT_DIR, else ~/.local/share/cordon/vault
 *     master.key                  0600   32 random bytes, created on first use (or `masterKeyFile`)
 *     master.check                0600   16-byte key check value, so a wrong master key is refused clearly
 *     <hex session id>/           0700   session id = HMAC-SHA256(master, name): names do not leak
 *       key.wrapped               0600   the session key, AES-256-GCM under the master key
 *       index.enc                 0600   encrypted JSON: object id → name, size, sha256, added
 *       objects/<random id>.enc   0600   one encrypted file each
 *
 * Writes are atomic (temporary file, fsync, rename, fsync of the directory). Writers to one session
 * (put, destroy) take `<session>/.lock` (O_EXCL, holding the writer's pid; a lock whose process is
 * gone is taken over), so concurrent puts do not lose each other's index entries.
 *
 * Destroy overwrites every file of the session with random bytes before unlinking it. On SSDs and
 * copy-on-write filesystems (btrfs, ZFS) an overwrite does not guarantee the old blocks are gone;
 * what makes the data unrecoverable is that the session key existed only wrapped in key.wrapped
 * (and in memory), so once that is gone nothing left anywhere decrypts.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  AuthError,
  BlobKind,
  equalBytes,
  masterCheck,
  newKey,
  newObjectId,
  open,
  seal,
  sessionIdOf,
  SESSION_ID_BYTES,
  SESSION_ID_OFFSET,
  unwrapKey,
  wrapKey,
  ZERO_OBJECT_ID,
  KEY_BYTES,
} from './crypto.js';
import { makeDirs } from '../util/mkdirs.js';

export type VaultErrorCode = 'no-such-session' | 'exists' | 'wrong-key' | 'corrupt' | 'not-found' | 'locked' | 'invalid';

/** A refusal with a stable code; messages never contain key material or file contents. */
export class VaultError extends Error {
  constructor(
    readonly code: VaultErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'VaultError';
  }
}

export interface VaultOptions {
  /** The vault root. Default: $CORDON_VAULT_DIR, else ~/.local/share/cordon/vault. */
  root?: string;
  /** Where the master key lives. Default: <root>/master.key (outside every session directory). */
  masterKeyFile?: string;
}

export interface VaultEntry {
  name: string;
  size: number;
  sha256: string;
  /** ISO 8601 time the file was put. */
  added: string;
}

interface IndexObject extends VaultEntry {
  id: string;
}

interface Index {
  version: 1;
  objects: IndexObject[];
}

export function vaultRoot(opts: VaultOptions = {}): string {
  if (opts.root) return opts.root;
  const env = process.env.CORDON_VAULT_DIR;
  if (env) return env;
  return join(homedir(), '.local', 'share', 'cordon', 'vault');
}

function ensureDir(dir: string): void {
  if (!existsSync(dir)) makeDirs(dir, 0o700);
  chmodSync(dir, 0o700);
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // some filesystems refuse fsync on a directory; the rename is still atomic
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes `data` to `path` atomically with mode 0600: temporary file, fsync, rename, fsync directory. */
export function writeAtomic(path: string, data: Buffer): void {
  const dir = dirname(path);
  const tmp = join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dir);
}

/** Overwrites a file with random bytes of its length, fsyncs, unlinks. */
function shred(path: string): void {
  const size = lstatSync(path).size;
  const fd = openSync(path, 'r+');
  try {
    let off = 0;
    while (off < size) {
      const chunk = randomBytes(Math.min(1 << 20, size - off));
      off += writeSync(fd, chunk, 0, chunk.length, off);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  unlinkSync(path);
}

function shredTree(dir: string): number {
  let files = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      files += shredTree(p);
      rmdirSync(p);
    } else if (e.isFile()) {
      shred(p);
      files++;
    } else unlinkSync(p);
  }
  return files;
}

const LOCK_WAIT_MS = 10_000;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `f` holding the session's write lock. */
function withLock<T>(dir: string, f: () => T): T {
  const lock = join(dir, '.lock');
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new VaultError('no-such-session', 'no such session (it was destroyed meanwhile)');
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder = NaN;
      try {
        holder = Number(readFileSync(lock, 'utf8'));
      } catch {
        continue; // released meanwhile
      }
      if (Number.isInteger(holder) && holder > 0 && !pidAlive(holder)) {
        try {
          unlinkSync(lock);
        } catch {
          /* another waiter took it over first */
        }
        continue;
      }
      if (Date.now() > deadline)
        throw new VaultError(
          'locked',
          `the session is locked by process ${Number.isNaN(holder) ? '?' : holder}: another cordon vault command is writing to it`,
        );
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  try {
    return f();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      /* destroy removed the directory */
    }
  }
}

function checkName(session: string): void {
  if (session.length === 0 || session.length > 256 || /[\u0000-\u001f\u007f]/.test(session)) {
    throw new VaultError('invalid', 'a session name must be 1–256 characters without control characters');
  }
}

/** Loads the master key, creating it (and its check value) on first use when `create`. */
function loadMaster(root: string, opts: VaultOptions, create: boolean): Buffer {
  const keyFile = opts.masterKeyFile ?? join(root, 'master.key');
  const checkFile = join(root, 'master.check');
  if (!existsSync(keyFile)) {
    if (!create) throw new VaultError('no-such-session', `no vault master key at ${keyFile}: no such session`);
    if (existsSync(checkFile)) {
      throw new VaultError('wrong-key', `wrong key: the vault at ${root} was created with another master key and ${keyFile} is missing`);
    }
    ensureDir(dirname(keyFile));
    writeAtomic(keyFile, randomBytes(KEY_BYTES));
  }
  const mode = statSync(keyFile).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new VaultError(
      'invalid',
      `master key ${keyFile} is accessible to others (mode ${mode.toString(8).padStart(3, '0')}): refusing to use it; chmod 600 ${keyFile}`,
    );
  }
  const master = readFileSync(keyFile);
  if (master.length !== KEY_BYTES) throw new VaultError('wrong-key', `wrong key: ${keyFile} does not hold a ${KEY_BYTES}-byte key`);
  const check = masterCheck(master);
  if (existsSync(checkFile)) {
    if (!equalBytes(readFileSync(checkFile), check)) {
      throw new VaultError('wrong-key', `wrong key: ${keyFile} is not the master key this vault was created with`);
    }
  } else if (create) writeAtomic(checkFile, check);
  return master;
}

interface Session {
  root: string;
  id: Buffer;
  dir: string;
  key: Buffer;
}

function locate(session: string, opts: VaultOptions, create: boolean): { root: string; master: Buffer; id: Buffer; dir: string } {
  checkName(session);
  const root = vaultRoot(opts);
  if (!create && !existsSync(root)) throw new VaultError('no-such-session', `no such session '${session}'`);
  ensureDir(root);
  const master = loadMaster(root, opts, create);
  const id = sessionIdOf(master, session);
  return { root, master, id, dir: join(root, id.toString('hex')) };
}

function openSession(session: string, opts: VaultOptions): Session {
  const { root, master, id, dir } = locate(session, opts, false);
  const wrappedPath = join(dir, 'key.wrapped');
  if (!existsSync(wrappedPath)) throw new VaultError('no-such-session', `no such session '${session}'`);
  try {
    return { root, id, dir, key: unwrapKey(master, id, readFileSync(wrappedPath)) };
  } catch (e) {
    if (e instanceof AuthError)
      throw new VaultError('wrong-key', `wrong key: the key of session '${session}' cannot be unwrapped with this master key (or key.wrapped was altered)`);
    throw e;
  }
}

function readIndex(s: Session): Index {
  let plain: Buffer;
  try {
    plain = open(s.key, BlobKind.index, s.id, ZERO_OBJECT_ID, readFileSync(join(s.dir, 'index.enc')));
  } catch (e) {
    if (e instanceof AuthError) throw new VaultError('corrupt', 'the session index fails authentication: it was altered or belongs elsewhere');
    throw e;
  }
  return JSON.parse(plain.toString('utf8')) as Index;
}

function writeIndex(s: Session, index: Index): void {
  index.objects.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  writeAtomic(join(s.dir, 'index.enc'), seal(s.key, BlobKind.index, s.id, ZERO_OBJECT_ID, Buffer.from(JSON.stringify(index), 'utf8')));
}

function objectPath(s: Session, id: string): string {
  return join(s.dir, 'objects', `${id}.enc`);
}

function readObject(s: Session, o: IndexObject): Buffer {
  try {
    const data = open(s.key, BlobKind.object, s.id, Buffer.from(o.id, 'hex'), readFileSync(objectPath(s, o.id)));
    if (createHash('sha256').update(data).digest('hex') !== o.sha256) throw new AuthError();
    return data;
  } catch (e) {
    if (e instanceof AuthError) throw new VaultError('corrupt', `'${o.name}' fails authentication: its blob was altered or moved from elsewhere`);
    throw e;
  }
}

/** Creates a session with a fresh key. Refuses if it exists. */
export function createSession(session: string, opts: VaultOptions = {}): void {
  const { master, id, dir } = locate(session, opts, true);
  if (existsSync(dir)) throw new VaultError('exists', `session '${session}' already exists`);
  ensureDir(dir);
  ensureDir(join(dir, 'objects'));
  const key = newKey();
  const s: Session = { root: dirname(dir), id, dir, key };
  writeIndex(s, { version: 1, objects: [] });
  // key.wrapped last: a session without it is incomplete and reads as absent
  writeAtomic(join(dir, 'key.wrapped'), wrapKey(master, id, key));
  key.fill(0);
}

/** Stores `data` as `name`; a file with that name is replaced (the old blob shredded). Returns the entry. */
export function putFile(session: string, name: string, data: Buffer, opts: VaultOptions = {}): VaultEntry & { replaced: boolean } {
  if (name.length === 0 || name.length > 1024 || name.includes('\0')) throw new VaultError('invalid', 'a file name must be 1–1024 characters without NUL');
  const s = openSession(session, opts);
  return withLock(s.dir, () => putLocked(s, name, data));
}

function putLocked(s: Session, name: string, data: Buffer): VaultEntry & { replaced: boolean } {
  if (!existsSync(join(s.dir, 'key.wrapped'))) throw new VaultError('no-such-session', 'no such session (it was destroyed meanwhile)');
  const index = readIndex(s);
  const oid = newObjectId();
  const id = oid.toString('hex');
  writeAtomic(objectPath(s, id), seal(s.key, BlobKind.object, s.id, oid, data));
  const entry: IndexObject = { id, name, size: data.length, sha256: createHash('sha256').update(data).digest('hex'), added: new Date().toISOString() };
  const old = index.objects.filter((o) => o.name === name);
  index.objects = [...index.objects.filter((o) => o.name !== name), entry];
  writeIndex(s, index);
  for (const o of old) if (existsSync(objectPath(s, o.id))) shred(objectPath(s, o.id));
  return { name, size: entry.size, sha256: entry.sha256, added: entry.added, replaced: old.length > 0 };
}

/** The decrypted content of `name`. */
export function getFile(session: string, name: string, opts: VaultOptions = {}): Buffer {
  const s = openSession(session, opts);
  const o = readIndex(s).objects.find((x) => x.name === name);
  if (!o) throw new VaultError('not-found', `no file '${name}' in session '${session}'`);
  return readObject(s, o);
}

/** The files of a session, sorted by name. */
export function listFiles(session: string, opts: VaultOptions = {}): VaultEntry[] {
  return readIndex(openSession(session, opts)).objects.map(({ name, size, sha256, added }) => ({ name, size, sha256, added }));
}

/** Every file of a session, decrypted in memory, sorted by name. */
export function readAll(session: string, opts: VaultOptions = {}): { name: string; data: Buffer }[] {
  const s = openSession(session, opts);
  return readIndex(s).objects.map((o) => ({ name: o.name, data: readObject(s, o) }));
}

export function sessionExists(session: string, opts: VaultOptions = {}): boolean {
  try {
    const { dir } = locate(session, opts, false);
    return existsSync(join(dir, 'key.wrapped'));
  } catch (e) {
    if (e instanceof VaultError && e.code === 'no-such-session') return false;
    throw e;
  }
}

export interface DestroyResult {
  /** Object files shredded. */
  objects: number;
  keyErased: boolean;
  /** True when the session directory is gone and no file under the root carries the session id. */
  verified: boolean;
  /** Files under the root that still carry the session id (empty when verified). */
  leftovers: string[];
}

/** Files under `dir` whose blob header carries `id` (or whose path names it). */
function scanFor(dir: string, id: Buffer): string[] {
  const hex = id.toString('hex');
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.name.includes(hex)) found.push(p);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const fd = openSync(p, 'r');
        try {
          const head = Buffer.alloc(SESSION_ID_OFFSET + SESSION_ID_BYTES);
          const n = readSync(fd, head);
          if (n === head.length && head.subarray(SESSION_ID_OFFSET).equals(id) && !found.includes(p)) found.push(p);
        } finally {
          closeSync(fd);
        }
      }
    }
  };
  walk(dir);
  return found;
}

/**
 * Erases a session: shreds key.wrapped first (from then on nothing of the session decrypts), then
 * every object, the index and any leftover, removes the directory, and verifies that the directory
 * is gone and that no file under the vault root carries the session id in its header.
 */
export function destroySession(session: string, opts: VaultOptions = {}): DestroyResult {
  const { root, id, dir } = locate(session, opts, false);
  if (!existsSync(dir)) throw new VaultError('no-such-session', `no such session '${session}'`);
  return withLock(dir, () => destroyLocked(root, id, dir));
}

function destroyLocked(root: string, id: Buffer, dir: string): DestroyResult {
  // moved aside first: a writer waiting for the lock then finds no session instead of a half-erased one
  const tomb = join(root, `.destroy-${randomBytes(8).toString('hex')}`);
  renameSync(dir, tomb);
  fsyncDir(root);
  const wrapped = join(tomb, 'key.wrapped');
  const objectsDir = join(tomb, 'objects');
  const objects = existsSync(objectsDir) ? readdirSync(objectsDir).filter((n) => n.endsWith('.enc')).length : 0;
  let keyErased = false;
  if (existsSync(wrapped)) {
    shred(wrapped);
    fsyncDir(tomb);
    keyErased = true;
  }
  shredTree(tomb);
  rmdirSync(tomb);
  fsyncDir(root);
  const leftovers = scanFor(root, id);
  return { objects, keyErased, verified: !existsSync(dir) && !existsSync(tomb) && leftovers.length === 0, leftovers };
}
