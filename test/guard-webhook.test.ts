/**
 * The spec's guard.webhooks and guard.onAnomaly: accepted and defaulted, bad values refused at
 * the boundary with their line (a URL that is not http/https or holds credentials, a bad name, a
 * name used twice, an unknown event type); and the sender against a real HTTP receiver the test
 * starts on loopback — only the listed types, the event's own JSON, a Standard Webhooks signature
 * that verifies, failures and timeouts counted, a full queue dropping and counting; live, a guard
 * process whose spec says onAnomaly: killswitch turns a burst into an anomaly, the kill switch, and
 * both POSTed to the webhook.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyRuleset } from '../src/apply/apply.js';
import { netnsTarget } from '../src/apply/target.js';
import { compile } from '../src/ir/compile.js';
import { killswitchTableName } from '../src/model/names.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { EVENT_SCHEMA_VERSION, GuardEventSchema, type GuardEvent } from '../src/guard/events.js';
import { GuardMetrics } from '../src/guard/metrics.js';
import { Webhooks } from '../src/guard/webhook.js';
import { loadModelFromText } from '../src/model/load.js';
import type { Webhook } from '../src/model/types.js';
import { GUARD_EVENT_TYPES } from '../src/spec/schema.js';
import { GW, guardSkip, HOST, renderedFor, Testbed, VPN } from './support/guard-bed.js';

const CORDON = join(fileURLToPath(new URL('..', import.meta.url)), 'bin', 'cordon');

const SPEC = `version: 1
networks:
  lan0: { cidr: 10.1.0.0/24 }
hosts:
  hv: { kind: hypervisor, nics: { lan0: 10.1.0.1 } }
guard:
  onAnomaly: killswitch
  webhooks:
    - name: ops
      url: https://hooks.example/cordon
`;

describe('guard.webhooks and guard.onAnomaly in the spec', () => {
  it('fills the defaults: the events worth telling, unsigned; onAnomaly as given (alert when absent)', () => {
    const m = loadModelFromText(SPEC, 'g.yaml').model!;
    assert.equal(m.guard.onAnomaly, 'killswitch');
    assert.equal(m.guard.webhooks.length, 1);
    const w = m.guard.webhooks[0]!;
    assert.deepEqual(
      [w.name, w.url, w.events, w.secretEnv],
      ['ops', 'https://hooks.example/cordon', ['anomaly', 'drift', 'killswitch', 'rogue', 'vpn-down'], null],
    );
    assert.equal(w.origin.line, 9);
    const none = loadModelFromText(SPEC.split('guard:')[0]!, 'g.yaml').model!;
    assert.deepEqual([none.guard.webhooks, none.guard.onAnomaly], [[], 'alert']);
  });

  it('lists exactly the guard’s event types as what a webhook can ask for', () => {
    const types = GuardEventSchema.options.flatMap((o) => {
      const t = o.shape.type;
      return 'options' in t ? [...(t.options as readonly string[])] : [t.value];
    });
    assert.deepEqual([...GUARD_EVENT_TYPES].sort(), types.sort());
  });

  const bad: { name: string; line: string; at: number; message: RegExp }[] = [
    { name: 'an ftp URL', line: '      url: ftp://hooks.example/x', at: 10, message: /only http and https are supported, got 'ftp'/ },
    { name: 'a file URL', line: '      url: file:///etc/shadow', at: 10, message: /only http and https/ },
    { name: 'credentials in the URL', line: '      url: https://me:pw@hooks.example/', at: 10, message: /must not hold credentials/ },
    { name: 'not a URL', line: '      url: hooks.example', at: 10, message: /not a URL/ },
    { name: 'an unknown event type', line: '      url: https://h.example/\n      events: [anomaly, everything]', at: 11, message: /everything|anomaly/ },
    { name: 'an empty event list', line: '      url: https://h.example/\n      events: []', at: 11, message: /events|too small|at least/i },
    {
      name: 'a secret in the spec instead of a variable name',
      line: '      url: https://h.example/\n      secretEnv: whsec_abc/def=',
      at: 11,
      message: /environment variable name/,
    },
  ];
  for (const c of bad)
    it(`refuses ${c.name}, naming the line`, () => {
      const text = `${SPEC.split('      url:')[0]}${c.line}\n`;
      const r = loadModelFromText(text, 'g.yaml');
      assert.equal(r.model, undefined);
      const d = r.diagnostics.find((x) => x.severity === 'error');
      assert.ok(d && c.message.test(`${d.message} ${d.path ?? ''}`), r.diagnostics.map((x) => `${x.line} ${x.path ?? ''} ${x.message}`).join('\n'));
      assert.equal(d.line, c.at);
    });

  it('refuses a bad name and a name used twice', () => {
    let r = loadModelFromText(SPEC.replace('name: ops', 'name: Ops Team'), 'g.yaml');
    assert.match(r.diagnostics.map((d) => d.message).join('\n'), /lower-case letters, digits and -/);
    r = loadModelFromText(`${SPEC}    - name: ops\n      url: http://127.0.0.1:9/\n`, 'g.yaml');
    const d = r.diagnostics.find((x) => /used twice/.test(x.message));
    assert.ok(d, r.diagnostics.map((x) => x.message).join('\n'));
    assert.equal(d.line, 11);
  });
});

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** A receiver on loopback; `answer` decides each reply (never answering is allowed). */
async function receiver(answer: (res: ServerResponse, n: number) => void): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (b: Buffer) => (body += b.toString('utf8')));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      answer(res, got.length);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got, server };
}

async function until<T>(what: string, f: () => T | undefined | false, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const anomaly: GuardEvent = {
  v: EVENT_SCHEMA_VERSION,
  time: '2026-12-04T10:00:00.000Z',
  type: 'anomaly',
  host: 'pve',
  netns: null,
  subject: 'agent-1',
  kind: 'blocked',
  direction: 'up',
  ratePerMinute: 600,
  baselinePerMinute: null,
  deviationPerMinute: null,
  threshold: 60,
  reason: 'threshold',
};
const started: GuardEvent = { v: EVENT_SCHEMA_VERSION, time: anomaly.time, type: 'guard-started', host: 'pve', netns: null, message: 'x' };
const hook = (url: string, o: Partial<Webhook> = {}): Webhook => ({
  name: 'ops',
  url,
  events: ['anomaly'],
  secretEnv: null,
  origin: { file: 'g.yaml', line: 1, col: 1, path: 'guard.webhooks[0]', text: 'webhook ops' },
  ...o,
});
const metric = async (m: GuardMetrics, re: RegExp): Promise<number> => Number(re.exec(await m.text())?.[1] ?? NaN);

describe('guard webhooks against a real receiver on loopback', () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.closeAllConnections();
    for (const s of servers) s.close();
  });

  it('POSTs only the listed types, as the event’s JSON, signed the Standard Webhooks way', async () => {
    const r = await receiver((res) => res.writeHead(204).end());
    servers.push(r.server);
    const secret = Buffer.from('a webhook secret of some length');
    const metrics = new GuardMetrics();
    const w = new Webhooks([hook(r.url, { secretEnv: 'CORDON_T_WEBHOOK' })], { metrics, env: { CORDON_T_WEBHOOK: `whsec_${secret.toString('base64')}` } });
    w.dispatch(started);
    w.dispatch(anomaly);
    await until('the delivery', () => r.got.length === 1 && w);
    await w.stop();
    assert.equal(r.got.length, 1, 'guard-started was not listed');
    const [m] = r.got;
    assert.deepEqual(JSON.parse(m!.body), anomaly);
    assert.equal(m!.headers['content-type'], 'application/json');
    const id = String(m!.headers['webhook-id']);
    const ts = String(m!.headers['webhook-timestamp']);
    assert.match(id, /^msg_[0-9a-f-]{36}$/);
    assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 300, 'a timestamp within the 5-minute tolerance');
    const expected = `v1,${createHmac('sha256', secret).update(`${id}.${ts}.${m!.body}`).digest('base64')}`;
    assert.equal(m!.headers['webhook-signature'], expected);
    assert.equal(await metric(metrics, /^cordon_webhook_deliveries_total\{webhook="ops",outcome="sent"\} (\d+)$/m), 1);
  });

  it('counts a failing receiver: three tries, then the event is given up, counted and said once', async () => {
    const r = await receiver((res) => res.writeHead(500).end());
    servers.push(r.server);
    const metrics = new GuardMetrics();
    const said: string[] = [];
    const w = new Webhooks([hook(r.url)], { metrics, retryMs: 10, say: (l) => said.push(l) });
    w.dispatch(anomaly);
    w.dispatch(anomaly);
    await until('six tries', () => r.got.length === 6);
    await w.stop();
    assert.equal(await metric(metrics, /^cordon_webhook_failures_total\{webhook="ops"\} (\d+)$/m), 6);
    assert.equal(await metric(metrics, /^cordon_webhook_deliveries_total\{webhook="ops",outcome="failed"\} (\d+)$/m), 2);
    assert.equal(said.length, 1, said.join('\n'));
    assert.match(said[0]!, /webhook ops: an event was not delivered after 3 tries \(answered 500\); counted/);
  });

  it('gives up on a receiver that never answers after the timeout, and bounds its queue (drops counted)', async () => {
    const r = await receiver(() => undefined);
    servers.push(r.server);
    const metrics = new GuardMetrics();
    const w = new Webhooks([hook(r.url)], { metrics, timeoutMs: 150, retryMs: 10, queueLimit: 5 });
    for (let i = 0; i < 20; i++) w.dispatch(anomaly);
    // One in flight, five waiting: the other fourteen are dropped at once.
    assert.equal(await metric(metrics, /^cordon_webhook_dropped_total\{webhook="ops"\} (\d+)$/m), 14);
    await until('the first event given up after three timeouts', () => r.got.length >= 3);
    await new Promise((res) => setTimeout(res, 200));
    assert.ok((await metric(metrics, /^cordon_webhook_failures_total\{webhook="ops"\} (\d+)$/m)) >= 3);
    assert.ok((await metric(metrics, /^cordon_webhook_deliveries_total\{webhook="ops",outcome="failed"\} (\d+)$/m)) >= 1);
    await w.stop(0);
    const dropped = await metric(metrics, /^cordon_webhook_dropped_total\{webhook="ops"\} (\d+)$/m);
    const failed = await metric(metrics, /^cordon_webhook_deliveries_total\{webhook="ops",outcome="failed"\} (\d+)$/m);
    // Every event is accounted for: failed, dropped, or the one still in flight when it stopped.
    assert.ok(failed + dropped >= 19 && failed + dropped <= 20, `${failed} failed + ${dropped} dropped`);
  });

  it('refuses a missing or malformed secret variable, naming it and never its value', () => {
    const metrics = new GuardMetrics();
    assert.throws(
      () => new Webhooks([hook('http://127.0.0.1:9/', { secretEnv: 'CORDON_T_NONE' })], { metrics, env: {} }),
      /webhook ops: the webhook secret variable CORDON_T_NONE is not set/,
    );
    assert.throws(
      () => new Webhooks([hook('http://127.0.0.1:9/', { secretEnv: 'S' })], { metrics, env: { S: 'whsec_not base64!' } }),
      (e: Error) => /S must hold whsec_ followed by base64/.test(e.message) && !e.message.includes('not base64!'),
    );
    assert.throws(() => new Webhooks([hook('gopher://x/')], { metrics }), /webhook ops: only http and https/);
  });
});

describe('cordon guard with guard.webhooks and onAnomaly: killswitch (live, in namespaces)', { skip: guardSkip }, () => {
  it('a burst of forbidden packets is an anomaly POSTed to the webhook, and the kill switch goes into force', async () => {
    const bed = new Testbed();
    const dir = mkdtempSync(join(tmpdir(), 'cordon-webhook-cli-'));
    const r = await receiver((res) => res.writeHead(200).end());
    let child: ChildProcess | undefined;
    try {
      const spec = join(dir, 'vpn-only-vm.yaml');
      writeFileSync(
        spec,
        `${readFileSync(VPN, 'utf8')}\nguard:\n  blockedPerMinute: 30\n  onAnomaly: killswitch\n  webhooks:\n    - { name: ops, url: '${r.url}', events: [anomaly, killswitch] }\n`,
      );
      const loaded = loadModelFromText(readFileSync(spec, 'utf8'), spec);
      assert.ok(loaded.model, loaded.diagnostics.map((d) => d.message).join('\n'));
      const ir = compile(loaded.model);
      const out = await applyRuleset({
        target: netnsTarget(bed.ws),
        host: HOST,
        ruleset: renderedFor(ir, HOST),
        stateRoot: join(dir, 'state'),
        ir,
        say: () => undefined,
      });
      assert.equal(out.status, 'applied', out.message);
      const events = join(dir, 'events.jsonl');
      child = spawn(CORDON, ['guard', spec, '--host', HOST, '--netns', bed.ws, '--events', events, '--state-dir', join(dir, 'state'), '--on-drift', 'alert'], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, TMPDIR: dir },
      });
      let err = '';
      child.stderr!.on('data', (b: Buffer) => (err += b.toString('utf8')));
      await until('guard-started', () => existsSync(events) && readFileSync(events, 'utf8').includes('"guard-started"'), 20_000);
      // 20 forbidden datagrams inside one 10 s reading: 120 a minute, above 30.
      bed.pool.exec(bed.ws, ['bash', '-c', `for i in $(seq 20); do echo x 2>/dev/null > /dev/udp/${GW}/7200; done`]);
      await until('the webhook to get the anomaly and the kill switch', () => r.got.length >= 2, 25_000);
      const types = r.got.map((m) => (JSON.parse(m.body) as GuardEvent).type).sort();
      assert.deepEqual(types, ['anomaly', 'killswitch'], err);
      const ks = r.got.map((m) => JSON.parse(m.body) as GuardEvent).find((e) => e.type === 'killswitch');
      assert.ok(ks?.type === 'killswitch' && ks.engaged, JSON.stringify(ks));
      const tables = bed.pool.exec(bed.ws, ['nft', 'list', 'tables']).stdout;
      assert.ok(tables.includes(killswitchTableName(HOST)), `the kill switch table is loaded:\n${tables}`);
    } finally {
      if (child && child.exitCode === null) {
        const exited = new Promise<void>((res) => child!.once('exit', () => res()));
        child.kill('SIGTERM');
        await exited;
      }
      r.server.closeAllConnections();
      r.server.close();
      bed.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
