/**
 * `cordon events` and the event log reader: whole lines only, bad lines reported by number,
 * truncation followed, filters by type and host, the human line naming the rule and its file:line.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EventLogReader } from '../src/guard/eventlog.js';
import { eventLine, type GuardEvent } from '../src/guard/events.js';
import { formatEvent } from '../src/guard/format.js';

const CORDON = join(fileURLToPath(new URL('..', import.meta.url)), 'bin', 'cordon');
const dir = mkdtempSync(join(tmpdir(), 'cordon-events-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const blocked: GuardEvent = {
  v: 1,
  time: '2026-12-04T03:44:26.526Z',
  type: 'blocked',
  host: 'workload-vm',
  netns: 'ns1',
  src: '192.168.64.2',
  dst: '192.168.64.1',
  proto: 'tcp',
  port: 8080,
  sport: 40000,
  iif: null,
  oif: 'vz-nat',
  class: 'host',
  origin: {
    point: 'workload-vm:output',
    kind: 'default',
    text: 'cordon default for workload-vm:output: drop (default deny)',
    file: '/x/vpn-only-vm.yaml',
    line: 46,
    path: 'hosts.workload-vm',
  },
};
const drift: GuardEvent = {
  v: 1,
  time: '2026-12-04T03:45:00.000Z',
  type: 'drift',
  host: 'pve',
  netns: 'ns2',
  tables: ['inet cordon_pve_forward'],
  differences: ['inet cordon_pve_forward: + accept'],
  action: 'reapply',
};

describe('event log reader', () => {
  it('reads whole lines, waits for a partial one, reports bad lines and follows a truncation', () => {
    const f = join(dir, 'a.jsonl');
    writeFileSync(f, `${eventLine(blocked)}\nnot an event\n${eventLine(drift).slice(0, 20)}`);
    const r = new EventLogReader(f);
    let c = r.read();
    assert.deepEqual(c.events, [blocked]);
    assert.deepEqual(c.bad, [2]);
    appendFileSync(f, `${eventLine(drift).slice(20)}\n`);
    c = r.read();
    assert.deepEqual(c.events, [drift]);
    assert.deepEqual(r.read(), { events: [], bad: [] });
    writeFileSync(f, `${eventLine(drift)}\n`);
    assert.deepEqual(r.read().events, [drift]);
  });

  it("prints a blocked event with the rule in the user's words and its file:line", () => {
    assert.equal(
      formatEvent(blocked),
      '2026-12-04T03:44:26.526Z workload-vm blocked tcp 192.168.64.2:40000 → 192.168.64.1:8080 (host) by the chain default of workload-vm:output: "cordon default for workload-vm:output: drop (default deny)" (vpn-only-vm.yaml:46)',
    );
  });

  it('shows what a hostile writer put in an event (newline, escape sequence, bidi override), never obeys it', () => {
    // A tampered rule's comment reaches a drift event's differences; any reporter's event reaches a server.
    const hostile: GuardEvent = { ...drift, differences: ['+ rule comment "\u001b[2J"\n2026-12-04T00:00:00Z pve drift forged', 'x\u202ey'] };
    const line = formatEvent(hostile);
    assert.equal(line.split('\n').length, 1, 'one event, one line');
    assert.doesNotMatch(line, /[\u001b\u202e]/);
    assert.match(line, /comment "\\u\{1b\}\[2J"\\u\{a\}2026-12-04T00:00:00Z pve drift forged; x\\u\{202e\}y$/);
  });
});

describe('cordon events', () => {
  const f = join(dir, 'b.jsonl');
  writeFileSync(f, `${eventLine(blocked)}\n${eventLine(drift)}\n`);
  const run = (args: string[]) => spawnSync(CORDON, ['events', ...args], { encoding: 'utf8' });

  it('filters by type and host, prints JSON with --json', () => {
    let r = run([f, '--type', 'drift']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${formatEvent(drift)}\n`);
    r = run([f, '--host', 'workload-vm', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), blocked);
  });

  it('exits 2 for a missing file or an unknown type', () => {
    let r = run([join(dir, 'none.jsonl')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no event log/);
    r = run([f, '--type', 'blockd']);
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /unknown event type 'blockd' \(one of blocked, drift, reapplied, killswitch, vpn-down, vpn-up, rogue, anomaly, report, guard-started, guard-stopped\)/,
    );
  });
});
