/** The vault: round trips, nothing in clear on disk, authentication, wrong keys, destroy, retrieval, RAM mounts. */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { vault } from '../src/index.js';
import { BlobKind, open, sessionIdOf, SESSION_ID_BYTES, SESSION_ID_OFFSET } from '../src/vault/crypto.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const base = mkdtempSync(join(tmpdir(), 'cordon-vault-test-'));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
function freshRoot(): vault.VaultOptions {
  return { root: join(base, `v${n++}`) };
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [join(dir, e.name), ...walk(join(dir, e.name))] : [join(dir, e.name)]));
}

function sessionDir(opts: vault.VaultOptions, session: string): string {
  const master = readFileSync(join(opts.root!, 'master.key'));
  return join(opts.root!, sessionIdOf(master, session).toString('hex'));
}

function throwsCode(f: () => unknown, code: vault.VaultErrorCode, re?: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof vault.VaultError, String(e));
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

const BINARY = randomBytes(70_000);
const FILES: [string, Buffer][] = [
  ['notes/kundregister-hemligt.txt', Buffer.from('Kundregistret för Hemlighetsbolaget AB: kontonummer 4711-0815.\n', 'utf8')],
  ['empty.bin', Buffer.alloc(0)],
  ['blob.bin', BINARY],
  ['räksmörgås ünïcødé.md', Buffer.from('# Titel\n\nzxqvplaintextmarker\n', 'utf8')],
];

describe('vault', () => {
  it('round-trips text, binary and empty files, and lists names and sizes', () => {
    const o = freshRoot();
    vault.createSession('alpha', o);
    for (const [name, data] of FILES) vault.putFile('alpha', name, data, o);
    for (const [name, data] of FILES) assert.ok(vault.getFile('alpha', name, o).equals(data), name);
    const list = vault.listFiles('alpha', o);
    assert.deepEqual(
      list.map((e) => [e.name, e.size]),
      [...FILES].map(([name, d]) => [name, d.length]).sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
    );
    // replacing a name keeps one entry
    const r = vault.putFile('alpha', 'empty.bin', Buffer.from('now filled'), o);
    assert.equal(r.replaced, true);
    assert.equal(vault.getFile('alpha', 'empty.bin', o).toString(), 'now filled');
    assert.equal(vault.listFiles('alpha', o).length, FILES.length);
    assert.equal(readdirSync(join(sessionDir(o, 'alpha'), 'objects')).length, FILES.length, 'the replaced blob is gone');
    throwsCode(() => vault.createSession('alpha', o), 'exists');
    throwsCode(() => vault.getFile('alpha', 'missing', o), 'not-found');
  });

  it('leaves no file name, session name or plaintext visible on disk; dirs 0700, files 0600', () => {
    const o = freshRoot();
    vault.createSession('secret-session-name', o);
    for (const [name, data] of FILES) vault.putFile('secret-session-name', name, data, o);
    const needles = ['kundregister', 'Hemlighetsbolaget', '4711-0815', 'zxqvplaintextmarker', 'räksmörgås', 'empty.bin', 'blob.bin', 'secret-session-name'];
    for (const p of walk(o.root!)) {
      const st = statSync(p);
      assert.equal(st.mode & 0o777, st.isDirectory() ? 0o700 : 0o600, p);
      for (const s of needles) assert.ok(!p.includes(s), `${s} in path ${p}`);
      if (st.isFile()) {
        const bytes = readFileSync(p);
        for (const s of needles) assert.equal(bytes.indexOf(Buffer.from(s, 'utf8')), -1, `${s} in ${p}`);
        assert.equal(bytes.indexOf(BINARY.subarray(0, 64)), -1, `binary content in ${p}`);
      }
    }
    assert.equal(statSync(o.root!).mode & 0o777, 0o700);
  });

  it('a tampered blob fails authentication', () => {
    const o = freshRoot();
    vault.createSession('t', o);
    vault.putFile('t', 'doc.txt', Buffer.from('original content'), o);
    const objects = join(sessionDir(o, 't'), 'objects');
    const f = join(objects, readdirSync(objects)[0]!);
    const bytes = readFileSync(f);
    bytes[bytes.length - 20]! ^= 1;
    writeFileSync(f, bytes);
    throwsCode(() => vault.getFile('t', 'doc.txt', o), 'corrupt', /fails authentication/);
    // and a tampered index
    const idx = join(sessionDir(o, 't'), 'index.enc');
    const ib = readFileSync(idx);
    ib[ib.length - 1]! ^= 0x80;
    writeFileSync(idx, ib);
    throwsCode(() => vault.listFiles('t', o), 'corrupt');
  });

  it('a blob moved to another session, or onto another object, fails authentication (AAD)', () => {
    const o = freshRoot();
    vault.createSession('a', o);
    vault.createSession('b', o);
    vault.putFile('a', 'x.txt', Buffer.from('from a'), o);
    vault.putFile('b', 'x.txt', Buffer.from('from b'), o);
    vault.putFile('b', 'y.txt', Buffer.from('also b'), o);
    const oa = join(sessionDir(o, 'a'), 'objects');
    const ob = join(sessionDir(o, 'b'), 'objects');
    const [blobA] = readdirSync(oa);
    const [b1, b2] = readdirSync(ob);
    // swap b's two objects: same key and session, different object id
    const t1 = readFileSync(join(ob, b1!));
    copyFileSync(join(ob, b2!), join(ob, b1!));
    writeFileSync(join(ob, b2!), t1);
    throwsCode(() => vault.getFile('b', 'x.txt', o), 'corrupt');
    // a's blob copied over b's object files
    copyFileSync(join(oa, blobA!), join(ob, b1!));
    copyFileSync(join(oa, blobA!), join(ob, b2!));
    throwsCode(() => vault.getFile('b', 'x.txt', o), 'corrupt');
    throwsCode(() => vault.getFile('b', 'y.txt', o), 'corrupt');
    // a's wrapped key moved into b cannot be unwrapped for b (AAD binds it to a's session id)
    copyFileSync(join(sessionDir(o, 'a'), 'key.wrapped'), join(sessionDir(o, 'b'), 'key.wrapped'));
    throwsCode(() => vault.listFiles('b', o), 'wrong-key', /wrong key/);
    assert.equal(vault.getFile('a', 'x.txt', o).toString(), 'from a');
  });

  it('a wrong master key is refused with a clear "wrong key" error', () => {
    const o = freshRoot();
    vault.createSession('w', o);
    vault.putFile('w', 'f.txt', Buffer.from('data'), o);
    const other = join(base, `other-${n}.key`);
    writeFileSync(other, randomBytes(32), { mode: 0o600 });
    throwsCode(() => vault.getFile('w', 'f.txt', { ...o, masterKeyFile: other }), 'wrong-key', /wrong key/);
    throwsCode(() => vault.listFiles('w', { ...o, masterKeyFile: other }), 'wrong-key');
    // replacing master.key itself (check value kept) is refused too
    copyFileSync(other, join(o.root!, 'master.key'));
    throwsCode(() => vault.getFile('w', 'f.txt', o), 'wrong-key', /wrong key/);
  });

  it('a master key readable by others is refused', () => {
    const o = freshRoot();
    vault.createSession('p', o);
    const k = join(o.root!, 'master.key');
    spawnSync('chmod', ['644', k]);
    throwsCode(() => vault.listFiles('p', o), 'invalid', /accessible to others/);
  });

  it('destroy erases the key and every object, verifies, and leaves nothing carrying the session id', () => {
    const o = freshRoot();
    vault.createSession('doomed', o);
    vault.createSession('kept', o);
    for (const [name, data] of FILES) vault.putFile('doomed', name, data, o);
    vault.putFile('kept', 'k.txt', Buffer.from('kept'), o);
    const master = readFileSync(join(o.root!, 'master.key'));
    const id = sessionIdOf(master, 'doomed');
    const dir = sessionDir(o, 'doomed');
    assert.ok(existsSync(dir));
    const r = vault.destroySession('doomed', o);
    assert.deepEqual(r, { objects: FILES.length, keyErased: true, verified: true, leftovers: [] });
    assert.ok(!existsSync(dir));
    for (const p of walk(o.root!)) {
      assert.ok(!p.includes(id.toString('hex')), p);
      if (statSync(p).isFile())
        assert.ok(
          !readFileSync(p)
            .subarray(SESSION_ID_OFFSET, SESSION_ID_OFFSET + SESSION_ID_BYTES)
            .equals(id),
          p,
        );
    }
    throwsCode(() => vault.getFile('doomed', 'empty.bin', o), 'no-such-session', /no such session/);
    throwsCode(() => vault.destroySession('doomed', o), 'no-such-session');
    assert.equal(vault.getFile('kept', 'k.txt', o).toString(), 'kept', 'other sessions untouched');
  });

  it('destroy reports a leftover blob of the session that sits elsewhere under the root', () => {
    const o = freshRoot();
    vault.createSession('d', o);
    vault.putFile('d', 'a.txt', Buffer.from('a'), o);
    const objects = join(sessionDir(o, 'd'), 'objects');
    copyFileSync(join(objects, readdirSync(objects)[0]!), join(o.root!, 'stray.enc'));
    const r = vault.destroySession('d', o);
    assert.equal(r.verified, false);
    assert.deepEqual(r.leftovers, [join(o.root!, 'stray.enc')]);
  });

  it('context ranks the relevant document first (English and Swedish)', () => {
    const o = freshRoot();
    vault.createSession('ctx', o);
    const docs: Record<string, string> = {
      'semester.md':
        'Semesterpolicy\n\nAnställda har rätt till 25 semesterdagar per år. Semesteransökan ska lämnas till chefen senast i mars. Sparade semesterdagar får tas ut inom fem år.',
      'faktura.md':
        'Fakturahantering\n\nAlla fakturor ska attesteras av två personer. Leverantörsfakturor betalas inom 30 dagar. Kontakta ekonomiavdelningen vid frågor om fakturor.',
      'gpu.md':
        'GPU cluster\n\nThe inference cluster has eight GPUs. Ollama serves the models on port 11434. Jobs are scheduled by the queue and GPU memory is limited.',
      'onboarding.md': 'Onboarding\n\nNew employees get a laptop and an account on the first day. The onboarding checklist lists the accounts to request.',
      'image.bin': '',
    };
    for (const [name, text] of Object.entries(docs)) vault.putFile('ctx', name, name.endsWith('.bin') ? randomBytes(100) : Buffer.from(text), o);
    // a long document is chunked
    vault.putFile(
      'ctx',
      'long.txt',
      Buffer.from(
        Array.from({ length: 60 }, (_, i) => `Paragraph ${i} about nothing in particular, filler text for chunking.`).join('\n\n') +
          '\n\nThe secret word is blåbärssoppa.',
      ),
      o,
    );
    const sv = vault.context('ctx', 'hur många semesterdagar har jag', 3, o);
    assert.equal(sv[0]?.name, 'semester.md');
    const fak = vault.context('ctx', 'vem attesterar fakturor', 3, o);
    assert.equal(fak[0]?.name, 'faktura.md');
    const en = vault.context('ctx', 'which port does ollama use on the gpu cluster', 3, o);
    assert.equal(en[0]?.name, 'gpu.md');
    assert.ok(en.every((h, i) => i === 0 || h.score <= en[i - 1]!.score));
    const deep = vault.context('ctx', 'blåbärssoppa', 5, o);
    assert.equal(deep.length, 1);
    assert.equal(deep[0]?.name, 'long.txt');
    assert.ok(deep[0].text.length <= 800 && deep[0].text.includes('blåbärssoppa'));
    assert.deepEqual(vault.context('ctx', 'och att det', 5, o), [], 'stop words only');
    assert.ok(vault.chunkText('x', 'word '.repeat(1000)).every((c) => c.text.length <= 800));
  });

  it('materialize/vaultMount put the files 0400 on a RAM filesystem and cleanup removes them', async () => {
    const o = freshRoot();
    vault.createSession('m', o);
    for (const [name, data] of FILES) vault.putFile('m', name, data, o);
    const m = await vault.vaultMount('m', o);
    try {
      const mounts = readFileSync('/proc/mounts', 'utf8');
      const isRoot = process.getuid?.() === 0;
      if (m.privateMount) {
        assert.ok(
          mounts.split('\n').some((l) => l.split(' ')[1] === m.dir && l.split(' ')[2] === 'tmpfs'),
          `${m.dir} not a tmpfs mount`,
        );
        assert.ok(m.readOnly);
        assert.throws(() => writeFileSync(join(m.dir, 'new'), 'x'));
      } else {
        assert.ok(!isRoot || m.warnings.length > 0);
        assert.ok(m.dir.startsWith('/dev/shm/'));
        assert.match(m.warnings.join('\n'), /RAM-backed but not a private mount/);
      }
      const names = readdirSync(m.dir).sort();
      assert.deepEqual(names, ['blob.bin', 'empty.bin', 'notes_kundregister-hemligt.txt', 'räksmörgås ünïcødé.md']);
      for (const name of names) assert.equal(statSync(join(m.dir, name)).mode & 0o777, 0o400, name);
      assert.ok(readFileSync(join(m.dir, 'blob.bin')).equals(BINARY));
    } finally {
      await m.cleanup();
    }
    assert.ok(!existsSync(m.dir));
    assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(m.dir));
    await m.cleanup(); // safe twice
    // materialize refuses a persistent directory
    const disk = join(ROOT, '.cordon-vault-disk-test');
    mkdirSync(disk, { recursive: true });
    try {
      if (!['tmpfs', 'ramfs'].includes(String(spawnSync('stat', ['-f', '-c', '%T', disk], { encoding: 'utf8' }).stdout.trim()))) {
        throwsCode(() => vault.materialize('m', disk, o), 'invalid', /not tmpfs/);
        assert.deepEqual(readdirSync(disk), []);
      }
    } finally {
      rmSync(disk, { recursive: true, force: true });
    }
  });

  it('concurrent puts keep every entry; a stale lock is taken over', async () => {
    const o = freshRoot();
    vault.createSession('c', o);
    const runs = Array.from(
      { length: 6 },
      (_, i) =>
        new Promise<number | null>((resolve) => {
          const c = spawn(join(ROOT, 'bin/cordon'), ['vault', 'put', 'c', '--name', `f${i}.txt`, '--dir', o.root!], { stdio: ['pipe', 'ignore', 'inherit'] });
          c.stdin.end(`file ${i}`);
          c.on('close', resolve);
        }),
    );
    assert.deepEqual(await Promise.all(runs), [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(
      vault.listFiles('c', o).map((e) => e.name),
      ['f0.txt', 'f1.txt', 'f2.txt', 'f3.txt', 'f4.txt', 'f5.txt'],
    );
    assert.equal(readdirSync(join(sessionDir(o, 'c'), 'objects')).length, 6);
    writeFileSync(join(sessionDir(o, 'c'), '.lock'), '999999999');
    vault.putFile('c', 'after-stale.txt', Buffer.from('x'), o);
    assert.ok(!existsSync(join(sessionDir(o, 'c'), '.lock')));
    assert.equal(vault.destroySession('c', o).objects, 7);
  });

  it('a blob opens only as the kind, session and object it was sealed for', () => {
    const o = freshRoot();
    vault.createSession('k', o);
    const wrapped = readFileSync(join(sessionDir(o, 'k'), 'key.wrapped'));
    const master = readFileSync(join(o.root!, 'master.key'));
    const id = sessionIdOf(master, 'k');
    assert.equal(open(master, BlobKind.wrappedKey, id, Buffer.alloc(16), wrapped).length, 32);
    assert.throws(() => open(master, BlobKind.index, id, Buffer.alloc(16), wrapped), /authentication failed/);
  });
});

describe('cordon vault CLI', () => {
  function cordon(dir: string, args: string[], input?: string | Buffer) {
    const r = spawnSync(join(ROOT, 'bin/cordon'), ['vault', ...args], { cwd: ROOT, input, env: { ...process.env, CORDON_VAULT_DIR: dir, NO_COLOR: '1' } });
    return { code: r.status, stdout: r.stdout.toString('utf8'), stdoutBytes: r.stdout, stderr: r.stderr.toString('utf8') };
  }

  it('create, put (file and stdin), list, get, context, destroy with exit codes', () => {
    const dir = join(base, 'cli');
    const file = join(base, 'cli-input.bin');
    const bytes = randomBytes(5000);
    writeFileSync(file, bytes);
    assert.equal(cordon(dir, ['create', 's']).code, 0);
    const again = cordon(dir, ['create', 's']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
    assert.equal(cordon(dir, ['put', 's', file]).code, 0);
    assert.equal(cordon(dir, ['put', 's', '--name', 'notes.txt'], 'Kaffemaskinen står på plan tre.\n').code, 0);
    assert.equal(cordon(dir, ['put', 's'], 'x').code, 2, 'stdin needs --name');
    const list = JSON.parse(cordon(dir, ['list', 's', '--json']).stdout) as { files: { name: string; size: number }[] };
    assert.deepEqual(
      list.files.map((f) => [f.name, f.size]),
      [
        ['cli-input.bin', 5000],
        ['notes.txt', Buffer.byteLength('Kaffemaskinen står på plan tre.\n')],
      ],
    );
    const got = cordon(dir, ['get', 's', 'cli-input.bin']);
    assert.equal(got.code, 0);
    assert.ok(got.stdoutBytes.equals(bytes));
    const out = join(base, 'cli-out.txt');
    assert.equal(cordon(dir, ['get', 's', 'notes.txt', '--out', out]).code, 0);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    assert.equal(cordon(dir, ['get', 's', 'nope']).code, 1);
    const ctx = JSON.parse(cordon(dir, ['context', 's', 'var står kaffemaskinen', '--json']).stdout) as { hits: { name: string }[] };
    assert.equal(ctx.hits[0]?.name, 'notes.txt');
    assert.equal(cordon(dir, ['context', 's', 'x', '-k', '0']).code, 2);
    const other = join(base, 'cli-other.key');
    writeFileSync(other, randomBytes(32), { mode: 0o600 });
    const wrong = cordon(dir, ['get', 's', 'notes.txt', '--master-key', other]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /wrong key/);
    const d = cordon(dir, ['destroy', 's']);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.stdout, 'destroyed: 2 objects, key erased, verified: nothing decryptable remains\n');
    const gone = cordon(dir, ['get', 's', 'notes.txt']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /no such session 's'/);
    assert.doesNotMatch(gone.stderr + d.stderr, /\bat .+:\d+:\d+/);
  });
});
