/**
 * Streaming render (`cordon render -o` of nftables): the Emitter's byte mode, ByteOut, the
 * nftables renderer's `renderTo` and write.ts `stageFiles`. The promise is "the same bytes as the
 * text form, and nothing left behind unless the render is complete": each part is checked against
 * the text form it replaces, and the files on disk against what `writeRendered` writes.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateSpec } from '../src/gen/generate.js';
import type { Ir } from '../src/ir/types.js';
import { ByteOut, collectChunks } from '../src/render/bytes.js';
import { Emitter } from '../src/render/emit.js';
import { UnsafeOutput } from '../src/render/escape.js';
import { guarded } from '../src/render/guard.js';
import { nftablesRenderer } from '../src/render/nftables/index.js';
import type { FileSink, StreamedFile, StreamingRenderer } from '../src/render/types.js';
import { stageFiles, writeRendered } from '../src/render/write.js';
import { formatIPv4 } from '../src/util/ip.js';
import { exampleFiles, irOfFile, irOfText } from './support/golden.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TMP = mkdtempSync(join(tmpdir(), 'cordon-render-stream-'));
after(() => rmSync(TMP, { recursive: true, force: true }));
const NO_OPTS = { host: undefined, params: new Map<string, string>() };

/** A small deterministic generator (tests must not depend on Math.random). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Runs the same emitter program in text mode and in byte mode (tiny chunks: every boundary is crossed). */
function bothModes(program: (e: Emitter) => void, chunk = 7): { text: string; bytes: Buffer } {
  const t = new Emitter('\t');
  program(t);
  const kept = collectChunks();
  const b = new Emitter('\t', new ByteOut(kept.sink, chunk));
  program(b);
  b.end();
  return { text: t.toString(), bytes: kept.bytes() };
}

describe('the Emitter in byte mode writes the bytes of its text form', () => {
  it('for random programs of lines, blank lines, gaps, blocks and generated blocks', () => {
    const LINES = ['', 'x', 'table inet t {', 'élan — 日本', 'a\tb', 'counter drop'];
    /** One random program; `next` makes the same choices for both modes when seeded alike. */
    const program =
      (next: () => number) =>
      (e: Emitter): void => {
        const go = (depth: number): void => {
          const n = Math.floor(next() * 6);
          for (let i = 0; i < n; i++) {
            const op = Math.floor(next() * 7);
            if (op === 0) e.line(LINES[Math.floor(next() * LINES.length)]);
            else if (op === 1) e.gap();
            else if (op === 2 && depth < 3) e.block('b {', () => go(depth + 1), next() < 0.5 ? '}' : '');
            else if (op === 3) e.generated(next() < 0.3 ? '' : '\tset a {\n\t\t1.2.3.4\n\t}');
            else if (op === 4) {
              const what = Math.floor(next() * 3);
              e.generatedBytes((out) => {
                if (what === 1) out.ascii('\tset s {');
                if (what === 2) {
                  out.ipv4(0xc0a80001);
                  out.byte(0x0a);
                  out.num(65535);
                }
              });
            } else if (op === 5) e.line();
            else e.indent(() => go(depth + 1));
          }
        };
        go(0);
      };
    for (let seed = 1; seed <= 300; seed++) {
      const t = new Emitter('\t');
      program(rng(seed))(t);
      const kept = collectChunks();
      const b = new Emitter('\t', new ByteOut(kept.sink, 1 + (seed % 9)));
      program(rng(seed))(b);
      b.end();
      assert.deepEqual(kept.bytes(), Buffer.from(t.toString(), 'utf8'), `seed ${seed}`);
    }
  });

  it('for the edge cases: nothing, blank lines only, blank lines before and after', () => {
    for (const program of [
      (): void => undefined,
      (e: Emitter): void => void e.line().line(),
      (e: Emitter): void => void e.gap().line('a').gap().gap(),
      (e: Emitter): void => void e.line().line('a').line().line(),
      (e: Emitter): void => void e.line().generatedBytes((o) => o.ascii('x')),
      (e: Emitter): void =>
        void e
          .line('a')
          .line()
          .generatedBytes(() => undefined)
          .line('b'),
    ]) {
      const { text, bytes } = bothModes(program);
      assert.deepEqual(bytes, Buffer.from(text, 'utf8'), JSON.stringify(text));
    }
  });

  it('lines made aside and inserted are the lines written in place, in both modes', () => {
    const cases: string[][] = [[], [''], ['', 'a'], ['a', '', 'b'], ['a', '', ''], ['élan — 日本', 'a\tb', '', 'x'], ['', '', 'a', '', 'b', '']];
    for (const lines of cases) {
      // The aside's trailing blank lines are dropped: written in place, they are left out.
      let end = lines.length;
      while (end > 0 && lines[end - 1] === '') end--;
      const viaAside = (e: Emitter): void => {
        e.line('table t {').indent(() => {
          const a = e.aside(1);
          for (const l of lines) a.line(l);
          a.gap();
          e.line('# between');
          e.block('chain c {', () => e.insert(a));
        });
        e.line('}');
      };
      const want = bothModes((e) => {
        e.line('table t {').indent(() => {
          e.line('# between');
          e.block('chain c {', () => lines.slice(0, end).forEach((l) => e.line(l)));
        });
        e.line('}');
      });
      const got = bothModes(viaAside);
      assert.equal(got.text, want.text, JSON.stringify(lines));
      assert.deepEqual(got.bytes, Buffer.from(want.text, 'utf8'), JSON.stringify(lines));
    }
  });

  it('an aside emitter refuses raw control characters, in both modes', () => {
    const kept = collectChunks();
    assert.throws(() => new Emitter('\t', new ByteOut(kept.sink)).aside(1).line('a\u202eb'), UnsafeOutput);
    assert.throws(() => new Emitter('\t').aside().line('a\nb'), UnsafeOutput);
  });

  it('refuses raw control characters in lines, as in text mode', () => {
    const kept = collectChunks();
    assert.throws(() => new Emitter('\t', new ByteOut(kept.sink)).line('a\u001bb'), UnsafeOutput);
  });
});

describe('ByteOut', () => {
  it('writes numbers and addresses as String and formatIPv4 do, across chunk boundaries', () => {
    const r = rng(7);
    const nums = [0, 9, 10, 99, 100, 255, 256, 999, 1000, 65535, 65536, 4294967295];
    const addrs = [0, 1, 0xffffffff, 0x0a000001, 0xc0a8ff0a, 0x7f000001];
    for (let i = 0; i < 300; i++) {
      nums.push(Math.floor(r() * 70000));
      addrs.push(Math.floor(r() * 2 ** 32));
    }
    for (const chunk of [1, 3, 16, 1 << 16]) {
      const kept = collectChunks();
      const out = new ByteOut(kept.sink, chunk);
      for (const n of nums) {
        out.num(n);
        out.byte(0x20);
      }
      for (const a of addrs) {
        out.ipv4(a);
        out.byte(0x20);
      }
      out.flush();
      assert.equal(kept.bytes().toString('latin1'), [...nums.map(String), ...addrs.map(formatIPv4)].map((x) => `${x} `).join(''), `chunk ${chunk}`);
    }
    assert.throws(() => new ByteOut(() => undefined).num(-1), RangeError);
  });

  it('refuses a checked region holding anything but printable ASCII, tab and newline, before any of it leaves', () => {
    for (const bad of [[0x1b], [0x00], [0x0d], [0x7f], [0xc3, 0xa9]]) {
      const passed: number[] = [];
      const out = new ByteOut((chunk, length) => passed.push(...chunk.subarray(0, length)), 4);
      out.ascii('ok\n');
      out.beginChecked();
      assert.throws(() => {
        out.ascii('\tfine');
        out.bytes(Uint8Array.from(bad));
        out.ascii('more text after it');
        out.endChecked();
      }, UnsafeOutput);
      assert.equal(Buffer.from(passed).includes(Buffer.from(bad)), false, `${bad.join(',')} reached the sink`);
    }
    // ascii() refuses what is not ASCII even outside a checked region (it would be cut to a byte).
    assert.throws(() => new ByteOut(() => undefined).ascii('é'), UnsafeOutput);
    // And the Emitter turns it into a refusal of the block.
    const kept = collectChunks();
    assert.throws(() => new Emitter('\t', new ByteOut(kept.sink)).generatedBytes((o) => o.bytes(Uint8Array.from([0x1b]))), UnsafeOutput);
    assert.throws(() => new Emitter('\t').generatedBytes((o) => o.bytes(Uint8Array.from([0x1b]))), UnsafeOutput);
  });
});

/** Every file of a streaming render, as the bytes its sink received. */
function streamed(r: StreamingRenderer, ir: Ir, host?: string): { files: Map<string, Buffer>; diagnostics: string[] } {
  const files = new Map<string, Buffer>();
  const result = r.renderTo(ir, { host, params: new Map() }, (f: StreamedFile): FileSink => {
    const kept = collectChunks();
    return { write: kept.sink, close: () => files.set(f.path, kept.bytes()) };
  });
  assert.deepEqual(
    result.files.map((f) => f.path),
    [...files.keys()],
  );
  return { files, diagnostics: result.diagnostics.map((d) => `${d.code} ${d.severity} ${d.message}`) };
}

describe('nftables renderTo streams the bytes of render', () => {
  const specs: [string, Ir][] = exampleFiles().flatMap((f): [string, Ir][] => {
    const ir = irOfFile(f);
    return ir ? [[f, ir]] : [];
  });
  specs.push(['generated 60×400', irOfText(generateSpec({ hosts: 60, rules: 400, seed: 3 }), 'gen.yaml')]);

  it('for every example and a generated spec, every host and each host alone', () => {
    assert.ok(specs.length >= 5);
    for (const [name, ir] of specs) {
      for (const host of [undefined, ...new Set([...ir.chains.values()].map((c) => c.enforcedOn))]) {
        const text = nftablesRenderer.render(ir, { host, params: new Map() });
        const bytes = streamed(nftablesRenderer, ir, host);
        assert.deepEqual(
          bytes.diagnostics,
          text.diagnostics.map((d) => `${d.code} ${d.severity} ${d.message}`),
        );
        assert.deepEqual(
          [...bytes.files.keys()],
          text.files.map((f) => f.path),
          `${name} ${host}`,
        );
        for (const f of text.files) assert.deepEqual(bytes.files.get(f.path), Buffer.from(f.content, 'utf8'), `${name} ${f.path}`);
      }
    }
  });

  it('a host that gets no file: the same error, no file opened', () => {
    const [, ir] = specs[0]!;
    const opened: string[] = [];
    const r = nftablesRenderer.renderTo(ir, { host: 'no-such-host', params: new Map() }, (f) => {
      opened.push(f.path);
      return { write: () => undefined, close: () => undefined };
    });
    assert.deepEqual(opened, []);
    assert.deepEqual(
      r.diagnostics.map((d) => [d.code, d.severity]),
      [['CORDON004', 'error']],
    );
  });
});

describe('the guard around renderTo', () => {
  const ir = irOfText('version: 1\nhosts:\n  h: { kind: server }\n', 'guard.yaml');
  const fake = (renderTo: StreamingRenderer['renderTo']): StreamingRenderer =>
    guarded({ name: 'fake', description: 'test double', params: [], render: () => ({ files: [], diagnostics: [] }), renderTo });

  it('turns a refusal in the middle of a file into CORDON018 and no files', () => {
    const r = fake((_ir, _o, open) => {
      const sink = open({ path: 'h/a.nft', secret: false });
      sink.write(Buffer.from('half'), 4);
      throw new UnsafeOutput('interface name refused');
    }).renderTo(ir, NO_OPTS, () => ({ write: () => undefined, close: () => undefined }));
    assert.deepEqual(r.files, []);
    assert.deepEqual(
      r.diagnostics.map((d) => [d.code, d.severity]),
      [['CORDON018', 'error']],
    );
    assert.match(r.diagnostics[0]!.message, /interface name refused/);
  });

  it('refuses a path that would leave the output directory before it is opened', () => {
    const opened: string[] = [];
    const r = fake((_ir, _o, open) => {
      open({ path: '../escaped.nft', secret: false });
      return { files: [], diagnostics: [] };
    }).renderTo(ir, NO_OPTS, (f) => {
      opened.push(f.path);
      return { write: () => undefined, close: () => undefined };
    });
    assert.deepEqual(opened, []);
    assert.equal(r.diagnostics[0]?.code, 'CORDON018');
  });
});

/** Every file under `dir` (relative path → content and mode), temporary files included. */
function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(dir)) return out;
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.set(`${r}/`, (statSync(p).mode & 0o777).toString(8));
        walk(p, r);
      } else out.set(r, `${(statSync(p).mode & 0o777).toString(8)} ${readFileSync(p, 'utf8')}`);
    }
  };
  walk(dir, '');
  return out;
}

describe('stageFiles', () => {
  const FILES = [
    { path: 'a/one.nft', content: 'one\n', secret: false },
    { path: 'a/key', content: 'secret\n', secret: true },
    { path: 'b/c/run.sh', content: '#!/bin/sh\n', secret: false, executable: true },
  ];
  const stage = (dir: string): ReturnType<typeof stageFiles> => {
    const st = stageFiles(dir);
    for (const f of FILES) {
      const sink = st.open(f);
      const b = Buffer.from(f.content);
      sink.write(b, b.length);
      sink.close();
    }
    return st;
  };

  it('commit leaves the files writeRendered writes, with the same modes and paths, and no temporary file', () => {
    const want = join(TMP, 'want');
    const got = join(TMP, 'got');
    const paths = writeRendered(want, FILES);
    // Nothing under a final name before commit.
    const st = stage(got);
    assert.equal(
      [...tree(got).keys()].some((k) => FILES.some((f) => k === f.path)),
      false,
    );
    assert.deepEqual(
      st.commit(),
      paths.map((p) => p.replace(want, got)),
    );
    assert.deepEqual(tree(got), tree(want));
  });

  it('discard leaves the output directory as it was: not there, or with its own files only', () => {
    const fresh = join(TMP, 'fresh', 'out');
    stage(fresh).discard();
    assert.equal(existsSync(join(TMP, 'fresh')), false);
    const old = join(TMP, 'old');
    mkdirSync(join(old, 'a'), { recursive: true });
    writeFileSync(join(old, 'a', 'one.nft'), 'before\n');
    const before = tree(old);
    stage(old).discard();
    assert.deepEqual(tree(old), before);
  });

  it('a directory that cannot be made: the rest is discarded and commit throws the mkdir error, leaving nothing', () => {
    const file = join(TMP, 'plain-file');
    writeFileSync(file, 'x');
    const st = stage(join(file, 'out'));
    // The error names the first directory that would go under the file, not the one asked for.
    assert.throws(
      () => st.commit(),
      (e: NodeJS.ErrnoException) => e.code === 'ENOTDIR' && e.syscall === 'mkdir' && e.path === join(file, 'out'),
    );
    assert.equal(readFileSync(file, 'utf8'), 'x');
  });
});

describe('cordon render -o streams', () => {
  const cordon = (args: readonly string[]) =>
    spawnSync(join(ROOT, 'bin/cordon'), args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

  it('the files hold what render prints, and a failed render leaves no directory', () => {
    const spec = 'examples/proxmox-dual-bridge.yaml';
    const out = join(TMP, 'cli-out');
    const w = cordon(['render', spec, '-t', 'nftables', '-o', out]);
    assert.equal(w.status, 0, w.stderr);
    const printed = cordon(['render', spec, '-t', 'nftables']);
    assert.equal(printed.status, 0, printed.stderr);
    const files = [...tree(out)].filter(([k]) => !k.endsWith('/'));
    assert.ok(files.length > 0);
    assert.equal(printed.stdout, files.map(([k, v]) => `# ==> ${k}\n${v.slice(4)}`).join(''));
    assert.equal(w.stderr, files.map(([k]) => `wrote ${join(out, k)}\n`).join(''));

    const failed = join(TMP, 'cli-failed');
    const f = cordon(['render', spec, '-t', 'nftables', '--host', 'wg-client', '-o', failed]);
    assert.equal(f.status, 1);
    assert.match(f.stderr, /target nftables cannot express this spec/);
    assert.equal(existsSync(failed), false);
  });
});
