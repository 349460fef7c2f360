/**
 * Every command block of README.md runs as written (issue 12, item 4).
 *
 * The blocks are taken from the README itself: ```sh blocks run line by line; ```console blocks
 * run their `$ ` lines, and the output lines printed under a command must appear in its output, in
 * that order (a line that is only `…` stands for whatever comes between). Each command must exit
 * 0 unless a marker on the lines just before the block allows more:
 *
 *   <!-- readme-test: skip REASON -->                  not run (make install, apt, a VPN config…)
 *   <!-- readme-test: exit N[,N] for WORD: REASON -->  commands containing WORD may also exit N
 *
 * Every marker has a reason, and a block with a `cordon` command must be sh or console, so no
 * command block hides from this test. Blocks run as root, one at a time, each in namespaces of its
 * own (`unshare --mount --net`): a fresh network namespace with only loopback, and private tmpfs
 * on /run/netns, /run/cordon, /run/cordon-lab, /run/wireguard and /tmp, so the `lab` namespace a
 * block makes, its labs and sandboxes are invisible to everything else on the machine and vanish
 * with the block. `cordon` is on PATH as `make install` puts it (a link to bin/cordon), and
 * CORDON_VAULT_DIR points into a temporary directory.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { requireOrSkip } from './support/require-env.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Marker {
  readonly kind: 'skip' | 'exit';
  readonly reason: string;
  readonly codes: readonly number[];
  readonly word?: string;
}
interface Block {
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly lang: string;
  readonly body: readonly string[];
  readonly markers: readonly Marker[];
  /** Marker comments that did not parse. */
  readonly badMarkers: readonly string[];
}
interface Command {
  readonly text: string;
  /** Output lines the README shows under it (console blocks). */
  readonly expect: readonly string[];
}

const MARKER = /^<!--\s*readme-test:\s*(.*?)\s*-->$/;

function parseMarker(text: string): Marker | undefined {
  const skip = /^skip\s+(.+)$/.exec(text);
  if (skip) return { kind: 'skip', reason: skip[1]!, codes: [] };
  const exit = /^exit\s+(\d+(?:,\d+)*)\s+for\s+(\S+):\s+(.+)$/.exec(text);
  if (exit) return { kind: 'exit', codes: exit[1]!.split(',').map(Number), word: exit[2]!, reason: exit[3]! };
  return undefined;
}

/** The fenced blocks of a Markdown text, with the readme-test markers on the lines just above each. */
export function readmeBlocks(md: string): Block[] {
  const lines = md.split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    const markers: Marker[] = [];
    const badMarkers: string[] = [];
    for (let j = start - 1; j >= 0; j--) {
      const m = MARKER.exec(lines[j]!.trim());
      if (!m) break;
      const parsed = parseMarker(m[1]!);
      if (parsed) markers.push(parsed);
      else badMarkers.push(lines[j]!);
    }
    out.push({ line: start + 1, lang: open[1]!, body, markers, badMarkers });
  }
  return out;
}

/** The commands of a block: sh lines (blank and comment lines left out, `\` continuations joined); console `$ ` lines and their output. */
export function commandsOf(b: Block): Command[] {
  const cmds: { text: string; expect: string[] }[] = [];
  if (b.lang === 'console') {
    for (const l of b.body) {
      if (l.startsWith('$ ')) cmds.push({ text: l.slice(2), expect: [] });
      else if (cmds.length > 0 && l.trim() !== '') cmds[cmds.length - 1]!.expect.push(l.trimEnd());
    }
    return cmds;
  }
  let pending = '';
  for (const l of b.body) {
    const t = pending + l;
    if (t.endsWith('\\')) {
      pending = `${t.slice(0, -1)} `;
      continue;
    }
    pending = '';
    if (t.trim() !== '' && !t.trim().startsWith('#')) cmds.push({ text: t, expect: [] });
  }
  return cmds;
}

/** Are `expect`'s lines in `actual`, in order (`…` alone: anything between)? Returns the first line missing. */
export function missingLine(expect: readonly string[], actual: string): string | undefined {
  const got = actual.split('\n').map((l) => l.trimEnd());
  let at = 0;
  for (const e of expect) {
    if (e.trim() === '…') continue;
    const k = got.indexOf(e, at);
    if (k < 0) return e;
    at = k + 1;
  }
  return undefined;
}

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const BLOCKS = readmeBlocks(README);
const RUNNABLE = new Set(['sh', 'console']);

describe('README command blocks: markers and languages', () => {
  it('the extractor finds blocks, markers and console output', () => {
    const md = [
      'text',
      '<!-- readme-test: exit 7 for curl: nothing answers -->',
      '```sh',
      'a \\',
      '  b # c',
      '# only a comment',
      '',
      '```',
      '```console',
      '$ x',
      'out',
      '…',
      'end',
      '```',
    ].join('\n');
    const [sh, con] = readmeBlocks(md);
    assert.deepEqual(sh!.markers, [{ kind: 'exit', codes: [7], word: 'curl', reason: 'nothing answers' }]);
    assert.deepEqual(commandsOf(sh!), [{ text: 'a    b # c', expect: [] }]);
    assert.deepEqual(commandsOf(con!), [{ text: 'x', expect: ['out', '…', 'end'] }]);
    assert.equal(missingLine(['out', '…', 'end'], 'out\nmore\nend\n'), undefined);
    assert.equal(missingLine(['end', 'out'], 'out\nend\n'), 'out', 'order counts');
  });
  it('README.md has runnable blocks, and every marker parses and gives a reason', () => {
    assert.ok(BLOCKS.filter((b) => RUNNABLE.has(b.lang) && !b.markers.some((m) => m.kind === 'skip')).length >= 5);
    for (const b of BLOCKS) {
      assert.deepEqual(b.badMarkers, [], `README.md:${b.line}: a readme-test marker that is not 'skip REASON' or 'exit N for WORD: REASON'`);
      for (const m of b.markers) assert.ok(m.reason.trim().split(/\s+/).length >= 3, `README.md:${b.line}: give a reason: '${m.reason}'`);
      if (b.markers.length > 0) assert.ok(RUNNABLE.has(b.lang), `README.md:${b.line}: a marker on a ${b.lang || 'plain'} block`);
    }
  });
  it('every block with a cordon command is sh or console, so none escapes this test', () => {
    for (const b of BLOCKS) {
      if (RUNNABLE.has(b.lang) || b.lang === 'yaml') continue;
      const cmd = b.body.find((l) => /^(\$ )?(\.\/bin\/)?cordon\s/.test(l));
      assert.equal(cmd, undefined, `README.md:${b.line}: a ${b.lang || 'plain'} block with a command (${cmd}): make it sh or console`);
    }
  });
  it('commands use `cordon` as make install puts it, never ./bin/cordon (one way throughout)', () => {
    for (const b of BLOCKS.filter((x) => RUNNABLE.has(x.lang)))
      for (const c of commandsOf(b)) assert.doesNotMatch(c.text, /\.\/bin\/cordon/, `README.md:${b.line}: ${c.text}`);
  });
});

function skipReason(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (the blocks make namespaces, labs and sandboxes)';
  for (const b of ['unshare', 'mount', 'ip', 'nft', 'bwrap', 'curl']) if (spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0) return `needs ${b}`;
  return undefined;
}
const SKIP = requireOrSkip('README blocks (live)', skipReason());

describe('README command blocks run as written (live)', { skip: SKIP }, () => {
  const work = mkdtempSync('/var/tmp/cordon-readme-');
  const bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(join(ROOT, 'bin', 'cordon'), join(bin, 'cordon'));
  after(() => rmSync(work, { recursive: true, force: true }));

  const PRIVATE = ['/run/netns', '/run/cordon', '/run/cordon-lab', '/run/wireguard', '/tmp'];

  for (const b of BLOCKS) {
    if (!RUNNABLE.has(b.lang)) continue;
    const skip = b.markers.find((m) => m.kind === 'skip');
    const cmds = commandsOf(b);
    const first = cmds[0]?.text.slice(0, 60) ?? '';
    it(`README.md:${b.line}: ${first}`, { skip: skip ? `readme-test: skip ${skip.reason}` : false, timeout: 600_000 }, () => {
      const out = join(work, `block-${b.line}`);
      mkdirSync(out);
      const script = [
        'set -u',
        ...PRIVATE.map((d) => `mkdir -p ${d} && mount -t tmpfs -o mode=0755 cordon-readme ${d} || exit 99`),
        'ip link set lo up',
        `cd '${ROOT}'`,
        ...cmds.map((c, i) => {
          writeFileSync(join(out, `${i}.sh`), `${c.text}\n`);
          return `sh '${join(out, `${i}.sh`)}' </dev/null >'${out}/${i}.out' 2>'${out}/${i}.err'; echo $? >'${out}/${i}.rc'`;
        }),
      ].join('\n');
      const r = spawnSync('unshare', ['--mount', '--net', '--propagation', 'private', '--', 'sh', '-c', script], {
        encoding: 'utf8',
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, NO_COLOR: '1', CORDON_VAULT_DIR: join(work, 'vault'), CI: process.env.CI ?? '' },
        timeout: 590_000,
      });
      assert.equal(r.status, 0, `the block's namespaces could not be made: ${r.stderr}`);
      for (const [i, c] of cmds.entries()) {
        const rcFile = join(out, `${i}.rc`);
        assert.ok(existsSync(rcFile), `README.md:${b.line}: '${c.text}' did not run`);
        const rc = Number(readFileSync(rcFile, 'utf8').trim());
        const stdout = readFileSync(join(out, `${i}.out`), 'utf8');
        const stderr = readFileSync(join(out, `${i}.err`), 'utf8');
        const allowed = [0, ...b.markers.filter((m) => m.kind === 'exit' && c.text.includes(m.word!)).flatMap((m) => m.codes)];
        assert.ok(
          allowed.includes(rc),
          `README.md:${b.line}: '${c.text}' exited ${rc} (expected ${allowed.join(' or ')})\n--- stdout\n${stdout.slice(-2000)}\n--- stderr\n${stderr.slice(-2000)}`,
        );
        const missing = missingLine(c.expect, stdout + stderr);
        assert.equal(missing, undefined, `README.md:${b.line}: '${c.text}' does not print the README's line\n  ${missing}\n--- its output\n${stdout}${stderr}`);
      }
    });
  }
});
