/**
 * Hostile input, end to end. Two laws:
 *
 * 1. Every string field of the spec (values and user-chosen keys, one of each kind found in the
 *    examples) with every payload of test/support/hostile-corpus.ts: either `check` refuses it with
 *    an error on the line of that field, or the field is free text (description, comment).
 * 2. Free text and the spec's file name carrying every payload, through every render target: no
 *    new diagnostic, no raw control/bidi character in any file, and the files mean what the same
 *    spec without the payload renders: nftables loaded into a namespace reads back to the spec's
 *    matrix and the same ruleset; iptables files loaded into a namespace save the same rules; YAML
 *    and XML parse to the same data (comments dropped by the real parser, xmllint --c14n);
 *    define.sh runs the same virsh commands against a stub and nothing else; every other file has
 *    the same non-comment lines. The payload is shown to reach the files (a marker), so escaping
 *    is what keeps them intact.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isMap, isScalar, LineCounter, parseAllDocuments, parseDocument, parse as parseYaml, stringify } from 'yaml';
import { importNftJson, withImportedChains } from '../src/import/nft-json/index.js';
import { compile } from '../src/ir/compile.js';
import type { Ir } from '../src/ir/types.js';
import { loadModelFromText } from '../src/model/load.js';
import type { Model } from '../src/model/types.js';
import { zoneSerial } from '../src/render/dns/index.js';
import { RENDERERS } from '../src/render/registry.js';
import type { Renderer, RenderResult } from '../src/render/types.js';
import { isKeyedRenderer } from '../src/render/wireguard/keys.js';
import { computeMatrix } from '../src/verify/matrix.js';
import { findProgram, ROOT } from './support/golden.js';
import { everyFieldSpec, HOSTILE, isFreeText, payloadGroups } from './support/hostile-corpus.js';
import { testKeyPair, testKeySource } from './support/wg-test-keys.js';

type Seg = string | number;
type Path = readonly Seg[];

/** Mappings whose keys the user chooses (names), by path kind. */
const NAME_MAPS = new Set(['networks', 'hosts', 'tunnels', 'groups', 'firewalls', 'hosts.*.nics', 'hosts.*.services', 'dns.records']);

function kindOf(path: Path): string {
  const out: string[] = [];
  for (const seg of path) out.push(typeof seg === 'number' || NAME_MAPS.has(out.join('.')) ? '*' : String(seg));
  return out.join('.');
}

interface Site {
  readonly base: string;
  readonly path: Path;
  readonly key: boolean;
}

/** Every string leaf and every user-chosen key of `data`, one per kind across all bases. */
function sites(bases: ReadonlyMap<string, unknown>): Site[] {
  const seen = new Set<string>();
  const out: Site[] = [];
  const visit = (base: string, v: unknown, path: Seg[]): void => {
    if (typeof v === 'string') {
      const k = `v:${kindOf(path)}`;
      if (!seen.has(k)) {
        seen.add(k);
        out.push({ base, path, key: false });
      }
    } else if (Array.isArray(v)) v.forEach((x, i) => visit(base, x, [...path, i]));
    else if (v !== null && typeof v === 'object') {
      const isNameMap = NAME_MAPS.has(kindOf(path));
      for (const [key, x] of Object.entries(v)) {
        if (isNameMap) {
          const k = `k:${kindOf([...path, key])}`;
          if (!seen.has(k)) {
            seen.add(k);
            out.push({ base, path: [...path, key], key: true });
          }
        }
        visit(base, x, [...path, key]);
      }
    }
  };
  for (const [base, data] of bases) visit(base, data, []);
  return out;
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** `data` with the string at `path` replaced, or the key at `path` renamed (order kept). */
function mutate(data: unknown, site: Site, payload: string): { data: unknown; path: Path } {
  const copy = clone(data) as Record<string, unknown>;
  const parentPath = site.path.slice(0, -1);
  const last = site.path[site.path.length - 1]!;
  let parent: Record<string | number, unknown> = copy;
  for (const seg of parentPath) parent = parent[seg] as Record<string | number, unknown>;
  if (!site.key) {
    parent[last] = payload;
    return { data: copy, path: site.path };
  }
  const entries = Object.entries(parent).map(([k, v]) => [k === last ? payload : k, v] as const);
  for (const k of Object.keys(parent)) delete parent[k];
  for (const [k, v] of entries) parent[k] = v;
  return { data: copy, path: [...parentPath, payload] };
}

function toYaml(data: unknown): string {
  return stringify(data, { lineWidth: 0, blockQuote: false });
}

/** The line of the value (or key) at `path` in `text`. */
function lineOf(text: string, path: Path, key: boolean): number {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  if (key) {
    const map = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
    assert.ok(isMap(map), `no mapping at ${path.slice(0, -1).join('.')}`);
    const pair = map.items.find((p) => isScalar(p.key) && p.key.value === path[path.length - 1]);
    assert.ok(pair && isScalar(pair.key) && pair.key.range, `no key at ${JSON.stringify(path)}`);
    return lc.linePos(pair.key.range[0]).line;
  }
  const node = doc.getIn(path, true);
  assert.ok(isScalar(node) && node.range, `no scalar at ${JSON.stringify(path)}`);
  return lc.linePos(node.range[0]).line;
}

const EXAMPLE_FILES = ['examples', 'examples/mistakes'].flatMap((d) => {
  const dir = join(ROOT, d);
  return spawnSync('ls', [dir], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(d, f));
});

const EVERY_FIELD = 'every-field spec';

function loadData(rel: string): unknown {
  if (rel === EVERY_FIELD) return parseYaml(everyFieldSpec(testKeyPair('phone').publicKey));
  return parseYaml(readFileSync(join(ROOT, rel), 'utf8'));
}

describe('hostile strings at the spec boundary', () => {
  // The small every-field spec first: each kind of field is then tried there, where loading is cheapest.
  const bases = new Map([EVERY_FIELD, ...EXAMPLE_FILES].map((f) => [f, loadData(f)] as const));
  const all = sites(bases);

  it('finds the string fields of every kind in the examples', () => {
    const kinds = new Set(all.map((s) => `${s.key ? 'k' : 'v'}:${kindOf(s.path)}`));
    const want = [
      ...['description', 'networks.*.cidr', 'networks.*.gateway', 'networks.*.egress', 'networks.*.bridge', 'networks.*.description'],
      ...['networks.*.ports.*', 'networks.*.dhcp.start', 'networks.*.dhcp.end', 'tunnels.*.nameservers.*'],
      ...[
        'hosts.*.kind',
        'hosts.*.nics.*',
        'hosts.*.nics.*.address',
        'hosts.*.nics.*.ifname',
        'hosts.*.nics.*.port',
        'hosts.*.services.*',
        'hosts.*.services.*.*',
        'hosts.*.egress',
        'hosts.*.gateway',
      ],
      ...[
        'hosts.*.routes.*.to',
        'hosts.*.routes.*.via',
        'hosts.*.uplink',
        'hosts.*.via',
        'hosts.*.address',
        'hosts.*.tunnel',
        'hosts.*.control.*',
        'hosts.*.publicKey',
        'hosts.*.description',
      ],
      ...['tunnels.*.server', 'tunnels.*.cidr', 'tunnels.*.endpoint', 'tunnels.*.ifname', 'tunnels.*.description', 'groups.*.*'],
      ...[
        'policy.*.allow.from',
        'policy.*.allow.to',
        'policy.*.allow.ports',
        'policy.*.allow.rate',
        'policy.*.allow.comment',
        'policy.*.deny.from.*',
        'policy.*.deny.ports.*',
      ],
      ...['expect.*.from', 'expect.*.to', 'expect.*.ports', 'expect.*.verdict', 'expect.*.assume', 'expect.*.comment'],
      ...[
        'firewalls.*.policy',
        'firewalls.*.comment',
        'firewalls.*.rules.*.action',
        'firewalls.*.rules.*.from',
        'firewalls.*.rules.*.to',
        'firewalls.*.rules.*.ports',
        'firewalls.*.rules.*.iif',
        'firewalls.*.rules.*.oif',
        'firewalls.*.rules.*.state',
        'firewalls.*.rules.*.comment',
      ],
      ...['dns.domain', 'dns.server', 'dns.upstream.*', 'dns.records.*', 'dns.description'],
    ].map((k) => `v:${k}`);
    want.push(
      ...['networks.*', 'hosts.*', 'tunnels.*', 'groups.*', 'firewalls.*', 'hosts.*.nics.*', 'hosts.*.services.*', 'dns.records.*'].map((k) => `k:${k}`),
    );
    for (const w of want) {
      assert.ok(kinds.has(w), `no example has ${w}`);
    }
  });

  for (const site of all) {
    const label = `${site.key ? 'key' : 'value'} ${kindOf(site.path)} (${site.base})`;
    it(`${label}: refused on its line, or free text`, () => {
      const problems: string[] = [];
      for (const p of HOSTILE) {
        const m = mutate(bases.get(site.base), site, p.text);
        const text = toYaml(m.data);
        const r = loadModelFromText(text, 'hostile.yaml');
        if (r.model) {
          if (!isFreeText(site.path)) problems.push(`${p.label}: accepted`);
          continue;
        }
        const line = lineOf(text, m.path, site.key);
        const errors = r.diagnostics.filter((d) => d.severity === 'error');
        if (!errors.some((d) => d.file === 'hostile.yaml' && d.line === line && d.col > 0)) {
          problems.push(`${p.label}: no error on line ${line}: ${errors.map((d) => `${d.line}:${d.col} ${d.code} ${d.message}`).join(' | ')}`);
        }
      }
      assert.deepEqual(problems, []);
    });
  }
});

// ------------------------------------------------------------------ through every renderer

const RENDER_BASES = [EVERY_FIELD, 'examples/mistakes/libvirt-ssh-to-any.yaml', 'examples/phoenix-gateway.yaml'];
const MARK = '~hostile~';
const PWNED = '/tmp/cordon-hostile-pwned';
const SEP = '@@cordon-hostile-separator@@';
const tmp = mkdtempSync(join(tmpdir(), 'cordon-hostile-'));
const canNs = process.getuid?.() === 0 && spawnSync('unshare', ['-n', 'true']).status === 0;
const xmllint = findProgram('xmllint');

function withFreeText(data: unknown, text: string): unknown {
  const copy = clone(data);
  const visit = (v: unknown, path: Seg[]): void => {
    if (Array.isArray(v)) v.forEach((x, i) => visit(x, [...path, i]));
    else if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      for (const [k, x] of Object.entries(o)) {
        if (typeof x === 'string' && isFreeText([...path, k])) o[k] = text;
        else visit(x, [...path, k]);
      }
    }
  };
  visit(copy, []);
  return copy;
}

function targets(): Renderer[] {
  return RENDERERS.map((r) => (isKeyedRenderer(r) ? r.withKeys(testKeySource()) : r));
}

interface Out {
  readonly variant: number;
  readonly target: string;
  readonly path: string;
  readonly content: string;
  readonly file: string;
}

/**
 * Runs one shell loop over many files (one process per tool instead of one per file: the tools,
 * not the loop, are what is checked) and splits its output per file.
 */
function batch(argv: readonly string[], loopBody: string, files: readonly string[]): string[] {
  if (files.length === 0) return [];
  const script = `for f in "$@"; do ${loopBody}; printf '\\n${SEP} %s\\n' "$?"; done`;
  const cmd = [...argv, 'sh', '-c', script, 'sh', ...files];
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const parts = r.stdout.split(new RegExp(`\\n${SEP} (\\d+)\\n`));
  const out: string[] = [];
  for (let i = 0; i < files.length; i++) {
    const status = parts[2 * i + 1];
    assert.equal(status, '0', `${argv.join(' ')} ${loopBody} failed on ${files[i]}: ${parts[2 * i]} ${r.stderr}`);
    out.push(parts[2 * i]!);
  }
  return out;
}

/** nft files loaded one by one into a fresh namespace, each listed back as JSON. */
function nftJsonAll(files: readonly string[]): string[] {
  // Handles count up across loads in one namespace: they are not part of the meaning.
  return batch(['unshare', '-n'], 'nft flush ruleset && nft -f "$f" && nft -j list ruleset', files).map((t) =>
    JSON.stringify(JSON.parse(t), (k, v: unknown) => (k === 'handle' ? undefined : v)),
  );
}

/** iptables-restore files loaded into a fresh namespace, each saved back (comment lines with dates dropped). */
function iptSaveAll(files: readonly string[]): string[] {
  const body = 'case "$f" in *6) ip6tables-restore < "$f" && ip6tables-save ;; *) iptables-restore < "$f" && iptables-save ;; esac';
  return batch(['unshare', '-n'], body, files).map((t) =>
    t
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n'),
  );
}

/** XML canonicalised by xmllint, comments cut (in canonical XML a '<' outside markup is always escaped, so the cut is exact). */
function c14nAll(files: readonly string[]): string[] {
  return batch([], `${xmllint} --c14n "$f"`, files).map((t) => t.replace(/<!--[\s\S]*?-->/g, ''));
}

/** Runs define.sh against a stub virsh; returns the virsh calls and the exit status. */
function defineRun(file: string, label: string): string {
  const dir = mkdtempSync(join(tmp, 'define-'));
  const log = join(dir, 'virsh.log');
  writeFileSync(join(dir, 'virsh'), '#!/bin/sh\nprintf "virsh %s\\n" "$*" >> "$VIRSH_LOG"\n[ "$1" = net-info ] && echo "Active: no"\nexit 0\n');
  chmodSync(join(dir, 'virsh'), 0o755);
  rmSync(PWNED, { force: true });
  const r = spawnSync('sh', [file], { encoding: 'utf8', env: { PATH: `${dir}:/usr/bin:/bin`, VIRSH_LOG: log } });
  assert.ok(!existsSync(PWNED), `${label}: define.sh ran an injected command`);
  const calls = existsSync(log) ? readFileSync(log, 'utf8') : '';
  return `${calls}status ${r.status} ${r.stderr}`;
}

/** The lines a line-based config keeps once its comments are gone (the reader's view). */
function uncommented(path: string, content: string, model: Model): string {
  return content
    .split('\n')
    .map((l) => {
      if (path.endsWith('.fw')) return l.replace(/\s*#.*$/, '');
      if (/\/db\.[^/]+$/.test(path)) return l.replace(/;.*$/, '').replace(String(zoneSerial(model)), 'SERIAL');
      return /^\s*(#|;|\/\/)/.test(l) ? '' : l;
    })
    .map((l) => l.trimEnd())
    .filter((l) => l !== '')
    .join('\n');
}

/** What every rendered file means, read back by the target's own parser where one runs here. */
function meanings(outs: readonly Out[], models: readonly Model[], label: string): string[] {
  const result = new Array<string>(outs.length);
  const byKind = (test: (o: Out) => boolean): number[] => outs.flatMap((o, i) => (test(o) ? [i] : []));
  const fill = (idx: number[], values: string[]): void => idx.forEach((i, k) => (result[i] = values[k]!));
  const nft = byKind((o) => o.path.endsWith('.nft'));
  const ipt = byKind((o) => /rules\.v[46]$/.test(o.path));
  const xml = byKind((o) => o.path.endsWith('.xml'));
  if (canNs) fill(nft, nftJsonAll(nft.map((i) => outs[i]!.file)));
  if (canNs) fill(ipt, iptSaveAll(ipt.map((i) => outs[i]!.file)));
  if (xmllint) fill(xml, c14nAll(xml.map((i) => outs[i]!.file)));
  outs.forEach((o, i) => {
    if (result[i] !== undefined) return;
    if (/\.ya?ml$/.test(o.path)) result[i] = JSON.stringify(parseAllDocuments(o.content).map((d): unknown => d.toJS() as unknown));
    // JSON has no comments: a top-level description is its free-text note (the Grafana dashboard's).
    else if (o.path.endsWith('.json')) result[i] = JSON.stringify({ ...(JSON.parse(o.content) as object), description: undefined });
    else if (o.path.endsWith('define.sh')) result[i] = defineRun(o.file, `${label} ${o.path}`);
    else if (o.path.endsWith('.xml')) result[i] = o.content.replace(/<!--[\s\S]*?-->/g, '');
    else result[i] = uncommented(o.path, o.content, models[o.variant]!);
  });
  return result;
}

/** The nftables target's files, read back from the kernel, give the spec's matrix (both views). */
function assertNftMatrix(ir: Ir, files: readonly { path: string; json: string }[], label: string): void {
  let rebuilt = ir;
  for (const f of files) {
    const host = f.path.split('/')[0]!;
    const imported = importNftJson(JSON.parse(f.json), { model: ir.model, host });
    assert.deepEqual(
      imported.diagnostics.filter((d) => d.severity === 'error'),
      [],
      `${label}: import of ${f.path}`,
    );
    rebuilt = withImportedChains(rebuilt, host, imported.chains);
  }
  for (const assume of ['configured', 'compromised'] as const) {
    assert.deepStrictEqual(computeMatrix(rebuilt, assume), computeMatrix(ir, assume), `${label}: ${assume} matrix read back from the kernel differs`);
  }
}

/** Raw characters no rendered file may hold: controls other than newline and tab, DEL, C1, separators, bidi, zero-width, BOM. */
const RAW_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/u;

const errorCodes = (x: RenderResult): string[] =>
  x.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code}${d.code === 'CORDON018' ? ` ${d.message}` : ''}`);

describe('hostile free text and file names through every render target', () => {
  after(() => rmSync(tmp, { recursive: true, force: true }));

  RENDER_BASES.forEach((base, bi) => {
    it(`${base}: every payload in free text and in the file name leaves every target's output meaning the same`, () => {
      const data = loadData(base);
      // Variant 0 is the spec as written, named base.yaml; the others carry one group of payloads each.
      const groups = payloadGroups();
      const variants = [
        { label: 'as written', text: toYaml(data), file: 'base.yaml' },
        ...groups.map((p) => ({ label: p.label, text: toYaml(withFreeText(data, `${p.text}${MARK}`)), file: `dir/hostile-${p.text}-spec.yaml` })),
      ];
      const models: Model[] = [];
      const irs: Ir[] = [];
      const results: Map<string, RenderResult>[] = [];
      const outs: Out[] = [];
      variants.forEach((v, vi) => {
        const loaded = loadModelFromText(v.text, v.file);
        assert.ok(loaded.model, `${v.label}: free text refused: ${loaded.diagnostics.map((d) => d.message).join(' | ')}`);
        models.push(loaded.model);
        const ir = compile(loaded.model);
        irs.push(ir);
        const perTarget = new Map<string, RenderResult>();
        for (const t of targets()) {
          const r = t.render(ir, { host: undefined, params: new Map() });
          perTarget.set(t.name, r);
          for (const f of r.files) {
            if (f.secret) continue;
            const file = join(tmp, `b${bi}`, `v${vi}`, t.name, f.path);
            mkdirSync(dirname(file), { recursive: true });
            writeFileSync(file, f.content);
            outs.push({ variant: vi, target: t.name, path: f.path, content: f.content, file });
          }
        }
        results.push(perTarget);
      });
      const means = meanings(outs, models, base);
      const baseMeaning = new Map(outs.flatMap((o, i) => (o.variant === 0 ? [[`${o.target}/${o.path}`, means[i]!] as const] : [])));
      let marked = 0;
      variants.forEach((v, vi) => {
        if (vi === 0) return;
        for (const t of targets()) {
          const label = `${base} ${t.name} with ${v.label}`;
          const r = results[vi]!.get(t.name)!;
          const b = results[0]!.get(t.name)!;
          assert.deepEqual(errorCodes(r), errorCodes(b), `${label}: errors differ`);
          assert.deepEqual(
            r.files.map((f) => f.path),
            b.files.map((f) => f.path),
            `${label}: file paths differ`,
          );
          for (const f of r.files) {
            const bad = f.content.match(RAW_UNSAFE);
            assert.equal(bad, null, `${label}: ${f.path} holds a raw U+${bad?.[0]?.codePointAt(0)?.toString(16)}`);
            assert.ok(f.content.includes('-spec.yaml'), `${label}: ${f.path} does not name the spec file`);
            if (f.content.includes(MARK)) marked++;
          }
        }
        outs.forEach((o, i) => {
          if (o.variant !== vi) return;
          assert.equal(means[i], baseMeaning.get(`${o.target}/${o.path}`), `${base} ${o.target} with ${v.label}: ${o.path} means something else`);
        });
        if (canNs) {
          const nft = outs.flatMap((o, i) => (o.variant === vi && o.target === 'nftables' ? [{ path: o.path, json: means[i]! }] : []));
          assertNftMatrix(irs[vi]!, nft, `${base} nftables with ${v.label}`);
        }
      });
      if (data !== null && typeof data === 'object' && 'firewalls' in data) assert.ok(marked > 0, `${base}: no free text reached any rendered file`);
    });
  });
});
