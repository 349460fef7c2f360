/**
 * `cordon lab up FILE --guard`, live: one guard process for the whole lab, watching every
 * enforcing namespace (mac-host, vpn-server, workload-vm of the vpn-only example), registered with
 * the lab; a forbidden attempt from the workload is a `blocked` event in the lab's events file;
 * `lab attack` prints what the guard saw of the attack; `lab down` ends the guard by its PID with the rest of the lab. Through the CLI; the spec is a
 * copy in a temporary directory, so a lab of the example that someone else runs is not ours.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseEventLine, type GuardEvent } from '../src/guard/events.js';
import { teardownLab } from '../src/lab/exec.js';
import { labsOf, leftoverNamespaces } from '../src/lab/lab.js';
import { readState } from '../src/lab/state.js';
import { guardSkip } from './support/guard-bed.js';
import { probeLab } from './support/lab-env.js';
import { requireOrSkip } from './support/require-env.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CORDON = join(ROOT, 'bin', 'cordon');
const skip = guardSkip ?? requireOrSkip('lab --guard (live)', probeLab());

function cordon(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(CORDON, args, { encoding: 'utf8', timeout: 180_000 });
}

describe('cordon lab up --guard (live)', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-guard-lab-'));
  const spec = join(dir, 'vpn-only-vm.yaml');
  copyFileSync(join(ROOT, 'examples', 'vpn-only-vm.yaml'), spec);

  after(async () => {
    for (const s of labsOf(spec)) await teardownLab(s.prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses --events or --metrics without --guard', () => {
    const r = cordon('lab', 'up', spec, '--events', join(dir, 'x.jsonl'));
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--metrics, --events and the --report-to flags go with --guard/);
  });

  it('one guard watches every enforcing namespace, logs a blocked attempt, and lab down ends it', async () => {
    const events = join(dir, 'events.jsonl');
    const up = cordon('lab', 'up', spec, '--guard', '--events', events, '--metrics', '127.0.0.1:0', '--json');
    assert.equal(up.status, 0, up.stderr);
    const out = JSON.parse(up.stdout) as { prefix: string; guard: { pid: number; events: string; metrics: string } };
    assert.equal(out.guard.events, events);
    assert.match(out.guard.metrics, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const read = (): GuardEvent[] =>
      readFileSync(events, 'utf8')
        .split('\n')
        .flatMap((l) => parseEventLine(l) ?? []);
    assert.deepEqual(
      read()
        .filter((e) => e.type === 'guard-started')
        .map((e) => e.host)
        .sort(),
      ['mac-host', 'vpn-server', 'workload-vm'],
    );
    assert.ok(
      readState(out.prefix)!.processes.some((p) => p.pid === out.guard.pid && p.name === 'guard'),
      "registered with the lab's processes",
    );
    // A forbidden attempt: the workload to the Mac's own address.
    cordon('lab', 'exec', '--lab', out.prefix, 'workload-vm', '--', 'timeout', '1', 'bash', '-c', 'exec 3<>/dev/tcp/192.168.64.1/22');
    let blocked: GuardEvent | undefined;
    for (let i = 0; i < 300 && !blocked; i++) {
      await new Promise((r) => setTimeout(r, 50));
      blocked = read().find((e) => e.type === 'blocked' && e.dst === '192.168.64.1' && e.port === 22);
    }
    assert.ok(blocked, 'a blocked event for the attempt');
    assert.equal(blocked.host, 'workload-vm');
    const metrics = await (await fetch(out.guard.metrics)).text();
    assert.match(metrics, /cordon_guard_up\{host="mac-host"\} 1/);
    assert.match(metrics, /agent_network_blocked_connections_total\{host="workload-vm",proto="tcp",class="host"\} [1-9]/);

    // The attack: what the guard saw of it is printed after the attack's own result.
    const attack = cordon('lab', 'attack', '--lab', out.prefix, 'workload-vm');
    assert.match(attack.stdout, /^guard: \d+ blocked attempts? logged/m, attack.stdout + attack.stderr);
    assert.match(attack.stdout, /^ {2}workload-vm:output: \d+, most by /m);
    assert.match(attack.stdout, /^guard: drift on workload-vm \(alert\)/m, 'the attacker flushed its own firewall: reported, not fought');

    const down = cordon('lab', 'down', '--lab', out.prefix);
    assert.equal(down.status, 0, down.stderr);
    // Dead: gone, or a zombie until whoever adopted it (the lab up that started it has exited) reaps it.
    const dead = (): boolean => {
      try {
        return /^State:\s+Z/m.test(readFileSync(`/proc/${out.guard.pid}/status`, 'utf8'));
      } catch {
        return !existsSync(`/proc/${out.guard.pid}`);
      }
    };
    for (let i = 0; i < 50 && !dead(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(dead(), 'the guard is gone with the lab');
    assert.deepEqual(await leftoverNamespaces(out.prefix), []);
  });
});
