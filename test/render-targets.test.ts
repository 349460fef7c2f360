/**
 * `cordon render -t NAME` loads only the named target (src/render/targets.ts); the registry is
 * still the list of all of them. These tests keep the two the same, so a target added to one and
 * not the other, or wired to another target's module, fails here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { RENDERERS } from '../src/render/registry.js';
import { loadRenderer, TARGET_NAMES } from '../src/render/targets.js';
import { exampleFiles, irOfFile, ROOT } from './support/golden.js';

test('the lazily loaded targets are the registry, in its order', () => {
  assert.deepEqual(
    TARGET_NAMES,
    RENDERERS.map((r) => r.name),
  );
});

test('each lazily loaded target is the registry renderer of that name: same description, parameters and output', async () => {
  const examples = exampleFiles().filter((f) => /proxmox-dual-bridge|libvirt-nat-filtered|agentfarm-platform/.test(f));
  assert.equal(examples.length, 3, 'the three examples used below exist');
  for (const reg of RENDERERS) {
    const lazy = await loadRenderer(reg.name);
    assert.ok(lazy, reg.name);
    assert.equal(lazy.name, reg.name);
    assert.equal(lazy.description, reg.description);
    assert.deepEqual(lazy.params, reg.params);
    if (reg.name === 'wireguard') continue; // its keys are random per render; the names above suffice
    for (const f of examples) {
      const ir = irOfFile(f);
      assert.ok(ir, f);
      const opts = { host: undefined, params: new Map<string, string>() };
      assert.deepEqual(lazy.render(ir, opts), reg.render(ir, opts), `${reg.name} on ${f}`);
    }
  }
});

test("names that are not targets, including the prototype's own keys, give no renderer", async () => {
  for (const name of ['', 'nft', 'NFTABLES', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'nftables ']) {
    assert.equal(await loadRenderer(name), undefined, JSON.stringify(name));
  }
});

test('the CLI: --target list names every target; an unknown target is exit 2 with the nearest name', () => {
  const cli = (args: string[]) => spawnSync(join(ROOT, 'bin/cordon'), args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const list = cli(['render', '--target', 'list']);
  assert.equal(list.status, 0, list.stderr);
  const listed = list.stdout
    .split('\n')
    .filter((l) => /^\S/.test(l))
    .map((l) => l.split(/\s+/)[0]);
  assert.deepEqual(listed, [...TARGET_NAMES]);
  const bad = cli(['render', '--target', 'nftable', 'examples/proxmox-dual-bridge.yaml']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown target 'nftable'.*nftables/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
});
