/**
 * The escaping helpers (src/render/escape.ts), the Emitter's refusal of raw control characters,
 * the registry guard and writeRendered's path check, each against the real reader where one runs:
 * shell words are read back by sh, identifiers by the rules of src/spec/identifiers.ts.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Emitter } from '../src/render/emit.js';
import { dnsName, ifname, inert, quotedText, safeRelativePath, shWord, UnsafeOutput } from '../src/render/escape.js';
import { guarded } from '../src/render/guard.js';
import type { Renderer } from '../src/render/types.js';
import { writeRendered } from '../src/render/write.js';
import { ifnameProblem } from '../src/spec/identifiers.js';
import { irOfText } from './support/golden.js';
import { HOSTILE } from './support/hostile-corpus.js';

const INVISIBLE_OR_NEWLINE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200b-\u200f\ufeff]/u;

describe('escaping helpers', () => {
  it('inert: one line, nothing invisible, and the same text when there was nothing to escape', () => {
    for (const p of HOSTILE) {
      const out = inert(p.text);
      assert.doesNotMatch(out, INVISIBLE_OR_NEWLINE, p.label);
      assert.equal(inert(out), out, `${p.label}: inert is idempotent`);
    }
    assert.equal(inert('allow agent → ollama.api tcp/11434 (spec.yaml:12)'), 'allow agent → ollama.api tcp/11434 (spec.yaml:12)');
    assert.equal(inert('a\nb'), 'a\\u{a}b');
  });

  it('quotedText: no double quote and nothing invisible inside nft/iptables "…"', () => {
    for (const p of HOSTILE) assert.doesNotMatch(quotedText(p.text), /["\u0000-\u001f\u2028\u2029\u202e]/u, p.label);
  });

  it('shWord: sh reads every printable payload back unchanged; control characters are refused', () => {
    for (const p of HOSTILE) {
      if (inert(p.text) !== p.text) {
        assert.throws(() => shWord(p.text), UnsafeOutput, p.label);
        continue;
      }
      const r = spawnSync('sh', ['-c', `printf %s ${shWord(p.text)}`], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${p.label}: ${r.stderr}`);
      assert.equal(r.stdout, p.text, p.label);
    }
    assert.equal(shWord('networks/vmbr1.xml'), 'networks/vmbr1.xml');
  });

  it('ifname and dnsName: refuse what the identifier rules refuse, pass the rest unchanged', () => {
    for (const p of HOSTILE) {
      if (ifnameProblem(p.text) === undefined) assert.equal(ifname(p.text), p.text);
      else assert.throws(() => ifname(p.text), UnsafeOutput, p.label);
      assert.throws(() => dnsName(p.text), UnsafeOutput, p.label);
    }
    for (const ok of ['wg0', 'vmbr0.100', 'tap101i0', 'veth-a_b@c']) assert.equal(ifname(ok), ok);
    assert.throws(() => ifname('ééééééééé'), UnsafeOutput);
    assert.equal(dnsName('nginx.internal.example.org'), 'nginx.internal.example.org');
  });

  it('ifnameProblem at the edges of its quick test: 15 and 16 bytes, the reserved names, a subject given or not', () => {
    assert.equal(ifnameProblem('a23456789012345'), undefined);
    assert.equal(ifnameProblem('a234567890123456'), "interface name 'a234567890123456' has 16 characters; the kernel allows at most 15");
    assert.equal(ifnameProblem('..', 'uplink'), 'uplink is reserved by the kernel');
    assert.equal(ifnameProblem('.'), "interface name '.' is reserved by the kernel");
    assert.equal(ifnameProblem(''), 'an interface name cannot be empty');
    assert.equal(ifnameProblem('éé'), 'interface name \'éé\' contains \'é\': an interface name is at most 15 bytes of letters, digits, "_", ".", "@" and "-"');
    assert.equal(ifnameProblem('eth 0', 'nic'), 'nic contains \'\\u{20}\': an interface name is at most 15 bytes of letters, digits, "_", ".", "@" and "-"');
  });

  it('safeRelativePath: only plain relative paths of safe segments', () => {
    for (const ok of ['pve/cordon.nft', 'libvirt/kvm/networks/agent-nat.xml', 'dns/pve/db.internal.example.org'])
      assert.equal(safeRelativePath(ok), undefined, ok);
    for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'a//b', 'a/./b', 'a/b c', 'a/\nb', ''])
      assert.notEqual(safeRelativePath(bad), undefined, JSON.stringify(bad));
  });
});

describe('the Emitter refuses raw line breaks and invisible characters', () => {
  it('throws UnsafeOutput on a newline, a CR, a NUL or a bidi override, accepts tabs', () => {
    for (const t of ['a\nb', 'a\rb', 'a\u0000b', 'a\u202eb', 'a\u2028b']) assert.throws(() => new Emitter().line(t), UnsafeOutput, JSON.stringify(t));
    assert.equal(
      new Emitter('\t')
        .block('a {', () => undefined)
        .line('x\ty')
        .toString(),
      'a {\n}\nx\ty\n',
    );
  });
});

describe('the registry guard and writeRendered', () => {
  const ir = irOfText('version: 1\nhosts:\n  h: { kind: server }\n', 'guard.yaml');
  const fake = (impl: Renderer['render']): Renderer => ({ name: 'fake', description: 'test double', params: [], render: impl });
  const dir = mkdtempSync(join(tmpdir(), 'cordon-escape-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('turns a refusal inside a renderer into a CORDON018 error and no files', () => {
    const r = guarded(
      fake(() => {
        throw new UnsafeOutput('interface name refused');
      }),
    ).render(ir, { host: undefined, params: new Map() });
    assert.deepEqual(r.files, []);
    assert.deepEqual(
      r.diagnostics.map((d) => [d.code, d.severity, d.file]),
      [['CORDON018', 'error', 'guard.yaml']],
    );
    assert.match(r.diagnostics[0]!.message, /interface name refused/);
  });

  it('refuses a file path that would leave the output directory', () => {
    const r = guarded(fake(() => ({ files: [{ path: '../escaped.nft', content: 'x\n', secret: false }], diagnostics: [] }))).render(ir, {
      host: undefined,
      params: new Map(),
    });
    assert.deepEqual(r.files, []);
    assert.equal(r.diagnostics[0]?.code, 'CORDON018');
  });

  it('lets other errors through (they are bugs, not input)', () => {
    assert.throws(
      () =>
        guarded(
          fake(() => {
            throw new TypeError('bug');
          }),
        ).render(ir, { host: undefined, params: new Map() }),
      TypeError,
    );
  });

  it('writeRendered writes nothing outside the output directory', () => {
    assert.throws(() => writeRendered(join(dir, 'out'), [{ path: '../outside.nft', content: 'x\n', secret: false }]), UnsafeOutput);
    assert.equal(existsSync(join(dir, 'outside.nft')), false);
    assert.deepEqual(writeRendered(join(dir, 'out'), [{ path: 'h/cordon.nft', content: 'x\n', secret: false }]), [join(dir, 'out', 'h/cordon.nft')]);
  });
});
