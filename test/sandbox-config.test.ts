/**
 * The sandbox config file (src/sandbox/config.ts): YAML → the request `cordon run`'s flags are read into too, with
 * `cordon check`-style diagnostics for bad input, and the file/CLI merge.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { loadModel } from '../src/model/load.js';
import { ConfigError, loadSandboxConfig, parseSandboxConfig, SandboxConfigSchema, type SandboxRequest } from '../src/sandbox/config.js';
import { mergeRequests, resolveRequest } from '../src/sandbox/request.js';
import { parseDomainRule } from '../src/sandbox/dns.js';
import { parseBytes, parseDuration, parseNetRule } from '../src/sandbox/plan.js';
import { specHostRules } from '../src/sandbox/spec-hosts.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TMP = mkdtempSync(join(tmpdir(), 'cordon-sandbox-config-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

let n = 0;
/** Writes `text` to a fresh directory and returns the file's path. */
function write(text: string, name = 'cordon-sandbox.yaml'): string {
  const dir = join(TMP, String(n++));
  const file = join(dir, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, text);
  return file;
}
/** The ConfigError a file raises, or a failed assertion. */
function errorOf(text: string): { message: string; file: string } {
  const file = write(text);
  try {
    loadSandboxConfig(file);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `not a ConfigError: ${String(e)}`);
    assert.doesNotMatch(e.message, /\n\s+at .*\(.*:\d+:\d+\)/, 'a stack trace in the message');
    return { message: e.message, file };
  }
  assert.fail(`accepted:\n${text}`);
}

const EXAMPLE_FROM_BRIEF = `# cordon-sandbox.yaml
mode: filtered            # isolated | filtered | vpn-only | open
allow: [198.51.100.10:8080, api.example.com:443, "*.pypi.org:443"]
deny: [10.0.0.0/8]
publish: [3000]
memory: 512m
cpus: 0.5
pids: 64
timeout: 30s
ro: [/opt/models]
rw: [/var/tmp/agent]
workdir: /srv/agent
host-netns: lab
dns-upstream: 192.0.2.53
vault: session-1
spec: examples/proxmox-dual-bridge.yaml
as: agent-vm               # run with HOST's egress from the spec
wireguard: ./wg0.conf      # vpn-only mode: a wg-quick style config
events: /var/log/cordon-events.jsonl
env: [OPENAI_API_KEY, "MODE=fast"]
env-all: false
show: [~/.gitconfig, .netrc]
allow-userns: true
command: [python3, agent.py]
`;

describe('sandbox config: good files', () => {
  it('a full file reads into the request, lists as lists and paths absolute', () => {
    const file = write(EXAMPLE_FROM_BRIEF);
    const dir = join(file, '..');
    const got = loadSandboxConfig(file);
    const want: SandboxRequest = {
      mode: 'filtered',
      allow: ['198.51.100.10:8080', 'api.example.com:443', '*.pypi.org:443'],
      deny: ['10.0.0.0/8'],
      publish: [3000],
      memory: '512m',
      cpus: 0.5,
      pids: 64,
      timeout: '30s',
      ro: ['/opt/models'],
      rw: ['/var/tmp/agent'],
      workdir: '/srv/agent',
      'host-netns': 'lab',
      'dns-upstream': '192.0.2.53',
      vault: 'session-1',
      spec: join(dir, 'examples/proxmox-dual-bridge.yaml'),
      as: 'agent-vm',
      wireguard: join(dir, 'wg0.conf'),
      events: '/var/log/cordon-events.jsonl',
      env: ['OPENAI_API_KEY', 'MODE=fast'],
      'env-all': false,
      show: [join(dir, '~/.gitconfig'), join(dir, '.netrc')],
      'allow-userns': true,
      command: ['python3', 'agent.py'],
    };
    assert.deepEqual(got, want);
  });

  it("numbers read as the flag's text would (bytes, seconds); one value stands for a one-item list", async () => {
    const got = parseSandboxConfig('memory: 536870912\ncpus: 2\npids: 64\ntimeout: 90\npublish: 3000\nallow: 192.0.2.1:443\ncommand: [sleep, 5, true]\n');
    assert.deepEqual(got, {
      allow: ['192.0.2.1:443'],
      deny: [],
      ro: [],
      rw: [],
      publish: [3000],
      env: [],
      show: [],
      memory: 536870912,
      cpus: 2,
      pids: 64,
      timeout: 90,
      command: ['sleep', '5', 'true'],
    });
    // The same resolver the CLI's flags go through reads them.
    const { input } = await resolveRequest(got);
    assert.equal(input.memoryBytes, 512 * 1024 * 1024);
    assert.equal(input.timeoutMs, 90_000);
    assert.equal(input.cpus, 2);
    assert.equal(input.pids, 64);
    assert.deepEqual(input.publish, [3000]);
    assert.deepEqual(input.command, ['sleep', '5', 'true']);
    // And as flags' text, the same.
    const asText = await resolveRequest({ ...got, memory: '536870912', cpus: '2', pids: '64', timeout: '90', publish: ['3000'] });
    assert.deepEqual(asText.input, input);
    assert.equal(parseBytes('536870912'), 512 * 1024 * 1024);
    assert.equal(parseDuration('90'), 90_000);
  });

  it("the kebab-case switches are the request's keys", () => {
    const got = parseSandboxConfig('i-mean-the-host: true\ndry-run: true\njson: false\nquiet: true\n');
    assert.equal(got.command, undefined);
    assert.deepEqual(got, {
      allow: [],
      deny: [],
      ro: [],
      rw: [],
      publish: [],
      env: [],
      show: [],
      'i-mean-the-host': true,
      'dry-run': true,
      json: false,
      quiet: true,
    });
  });

  it("relative paths resolve against the file's directory, not the cwd; names stay names", () => {
    const file = write(
      'spec: ../specs/lab.yaml\nwireguard: wg0.conf\nro: [models, /abs/ro]\nrw: ./cache\nworkdir: work\nevents: logs/denied.jsonl\nvault: session-1\nas: agent-vm\nhost-netns: lab\n',
    );
    const dir = join(file, '..');
    const flags = loadSandboxConfig(file);
    assert.equal(flags.spec, join(dir, '../specs/lab.yaml'));
    assert.equal(flags.wireguard, join(dir, 'wg0.conf'));
    assert.deepEqual(flags.ro, [join(dir, 'models'), '/abs/ro']);
    assert.deepEqual(flags.rw, [join(dir, 'cache')]);
    assert.equal(flags.workdir, join(dir, 'work'));
    assert.equal(flags.events, join(dir, 'logs/denied.jsonl'));
    assert.equal(flags.vault, 'session-1');
    assert.equal(flags.as, 'agent-vm');
    assert.equal(flags['host-netns'], 'lab');
  });

  it("examples/sandbox/agent.yaml loads, and every value passes the CLI's own parsers", () => {
    const file = join(ROOT, 'examples/sandbox/agent.yaml');
    const flags = loadSandboxConfig(file);
    const command = flags.command;
    assert.equal(flags.mode, 'filtered');
    assert.ok(command && command.length > 0);
    assert.equal(flags.spec, join(ROOT, 'examples/proxmox-dual-bridge.yaml'));
    assert.equal(flags.workdir, join(ROOT, 'examples/sandbox/work'));
    const model = loadModel(flags.spec).model;
    assert.ok(model, "the example's spec does not load");
    const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
    for (const a of list(flags.allow)) {
      const ok = typeof parseNetRule(a) !== 'string' || specHostRules(model, a) !== undefined || parseDomainRule(a) !== undefined;
      assert.ok(ok, `allow entry '${a}' is neither an address, a spec host nor a domain`);
    }
    for (const d of list(flags.deny)) assert.notEqual(typeof parseNetRule(d), 'string', `deny entry '${d}'`);
    for (const p of list(flags.publish)) assert.match(String(p), /^\d{1,5}$/);
    assert.ok((parseBytes(String(flags.memory)) ?? 0) > 0);
    assert.ok(Number(flags.cpus) > 0);
    assert.match(String(flags.pids), /^\d+$/);
    assert.ok((parseDuration(String(flags.timeout)) ?? 0) > 0);
  });
});

describe('sandbox config: bad files', () => {
  it('unknown key: FILE:LINE:COL, the key, a code frame and a did-you-mean', () => {
    const { message, file } = errorOf('mode: filtered\nhost_netns: lab\n');
    assert.match(message, new RegExp(`^${escape(file)}:2:1: error CORDON003: unknown field 'host_netns' at the top level\n`));
    assert.match(message, /\n {2}at host_netns\n/);
    assert.match(message, /\n> 2 \| host_netns: lab\n {4}\| \^\n/);
    assert.match(message, /hint: did you mean 'host-netns'\?/);
    // camelCase, as in RunFlags, is no key of the file either, but is recognised.
    assert.match(errorOf('dnsUpstream: 192.0.2.53\n').message, /unknown field 'dnsUpstream'[\s\S]*did you mean 'dns-upstream'\?/);
    assert.match(errorOf('memroy: 1g\n').message, /did you mean 'memory'\?/);
  });

  it('wrong type: names the JSON path and what was expected', () => {
    const { message, file } = errorOf('mode: isolated\npids: many\n');
    assert.match(message, new RegExp(`^${escape(file)}:2:7: error CORDON003: expected a whole number above 0 \\(64\\), got "many"\n  at pids\n`));
    const port = errorOf('publish: [3000, 70000]\n').message;
    assert.match(port, /:1:17: error CORDON003: expected a TCP port, 1-65535, got number 70000\n {2}at publish\[1\]\n/);
    assert.match(errorOf('cpus: [1]\n').message, /expected a number of CPUs above 0 \(0\.5, 2\), got a list\n {2}at cpus\n/);
    assert.match(errorOf('memory: lots\n').message, /expected a size: bytes, or a number with k, m, g or t \(512m, 1g\), got "lots"\n {2}at memory\n/);
    assert.match(errorOf('allow: [api.example.com:443, {host: x}]\n').message, /:1:30: .*got a mapping\n {2}at allow\[1\]\n/);
    assert.match(errorOf('quiet: yes please\n').message, /expected true or false, got "yes please"\n {2}at quiet\n/);
    assert.match(
      errorOf('env: [PATH, 1BAD=x]\n').message,
      /:1:13: error CORDON003: expected NAME or NAME=VALUE \(a variable name: letters, digits and _\), got "1BAD=x"\n {2}at env\[1\]\n/,
    );
    assert.match(errorOf('env-all: 1\n').message, /expected true or false, got number 1\n {2}at env-all\n/);
    assert.match(errorOf('show: [{path: x}]\n').message, /expected a path, got a mapping\n {2}at show\[0\]\n/);
    assert.match(errorOf('allow-userns: "no"\n').message, /expected true or false, got "no"\n {2}at allow-userns\n/);
    assert.match(errorOf('command: python3 agent.py\n').message, /at command\n[\s\S]*hint: write it as a list, one item per argument: \[python3, agent\.py\]/);
  });

  it('every problem is reported, in file order', () => {
    const { message } = errorOf('pids: many\nmode: nope\nfoo: 1\n');
    const heads = message.split('\n').filter((l) => / error CORDON/.test(l));
    assert.equal(heads.length, 3);
    assert.deepEqual(
      heads.map((h) => /:(\d+):\d+: /.exec(h)![1]),
      ['1', '2', '3'],
    );
  });

  it('bad mode: lists the valid modes, with a did-you-mean when close', () => {
    const far = errorOf('mode: bridged\n').message;
    assert.match(far, /:1:7: error CORDON003: expected one of isolated, filtered, vpn-only, open, got "bridged"\n {2}at mode\n/);
    assert.match(far, /hint: valid: isolated, filtered, vpn-only, open/);
    assert.match(errorOf('mode: filtred\n').message, /hint: did you mean 'filtered'\? \(valid: isolated, filtered, vpn-only, open\)/);
  });

  it('file not found: a clear one-line error', () => {
    const file = join(TMP, 'missing', 'cordon-sandbox.yaml');
    assert.throws(
      () => loadSandboxConfig(file),
      (e: unknown) => e instanceof ConfigError && e.message === `${file}: error CORDON001: cannot read sandbox config: no such file`,
    );
    assert.throws(
      () => loadSandboxConfig(TMP),
      (e: unknown) => e instanceof ConfigError && /cannot read sandbox config: it is a directory$/.test(e.message),
    );
  });

  it('YAML syntax error: line and column, explained', () => {
    const { message, file } = errorOf('mode: filtered\nallow: [api.example.com:443, pypi.org:443\npids: 64\n');
    assert.match(message, new RegExp(`^${escape(file)}:2:8: error CORDON002: YAML syntax error: '\\[' on line 2 is never closed\n`));
    assert.match(message, /hint: add the missing '\]'/);
    assert.match(errorOf('mode: filtered\n\tpids: 64\n').message, /:2:1: error CORDON002: YAML syntax error/);
    assert.match(errorOf('pids: 1\npids: 2\n').message, /:2:1: error CORDON002: YAML syntax error: Map keys must be unique/);
  });

  it('empty file, or not a mapping at the top', () => {
    assert.match(errorOf('# nothing here\n').message, /:1:1: error CORDON003: the sandbox config is empty/);
    assert.match(errorOf('- mode: filtered\n').message, /:1:1: error CORDON003: a sandbox config is a mapping of cordon run options, got a list/);
  });
});

describe('mergeRequests', () => {
  const file: SandboxRequest = {
    mode: 'filtered',
    allow: ['api.example.com:443'],
    deny: ['10.0.0.0/8'],
    ro: ['/opt/models'],
    rw: [],
    publish: ['3000'],
    memory: '512m',
    timeout: '30s',
    'host-netns': 'lab',
  };

  it("a CLI value wins; list flags add up, the file's first", () => {
    const cli: SandboxRequest = { allow: ['192.0.2.7:22'], deny: [], ro: [], rw: ['/tmp/x'], publish: ['8080'], memory: '1g', cpus: '2', quiet: true };
    const got = mergeRequests(file, cli);
    assert.deepEqual(got, {
      mode: 'filtered',
      allow: ['api.example.com:443', '192.0.2.7:22'],
      deny: ['10.0.0.0/8'],
      ro: ['/opt/models'],
      rw: ['/tmp/x'],
      publish: ['3000', '8080'],
      memory: '1g',
      cpus: '2',
      timeout: '30s',
      'host-netns': 'lab',
      quiet: true,
    });
  });

  it('a CLI value that was not given (a commander default) does not override the file', async () => {
    // What the CLI puts in its request: a single value only when given on the command line.
    const { commandLineInput } = await import('../src/cli/commands/run.js');
    const dir = mkdtempSync(join(TMP, 'merge-'));
    const f = join(dir, 'c.yaml');
    writeFileSync(f, 'mode: filtered\ntimeout: 30s\nallow: [192.0.2.1:443]\ni-mean-the-host: true\ncommand: [true]\n');
    const got = await commandLineInput(['--config', f, '--allow', '192.0.2.2:443']);
    assert.equal(got.input.mode, 'filtered');
    assert.equal(got.input.timeoutMs, 30_000);
    assert.deepEqual(
      got.input.allow?.map((r) => r.text),
      ['192.0.2.1:443', '192.0.2.2:443'],
    );
    const over = await commandLineInput(['--config', f, '--timeout', '10s', '--mode', 'open', '--', 'false']);
    assert.equal(over.input.timeoutMs, 10_000);
    assert.equal(over.input.mode, 'open');
    assert.deepEqual(over.input.command, ['false']);
  });

  it('changes neither input', () => {
    const before = JSON.stringify(file);
    const cli: SandboxRequest = { allow: ['192.0.2.7'], deny: [], ro: [], rw: [], publish: [] };
    mergeRequests(file, cli);
    assert.equal(JSON.stringify(file), before);
    assert.deepEqual(cli.allow, ['192.0.2.7']);
  });
});

describe('SandboxConfigSchema', () => {
  it('prints as a JSON Schema with a description on every field', () => {
    const js = z.toJSONSchema(SandboxConfigSchema) as { additionalProperties?: boolean; properties: Record<string, { description?: string }> };
    assert.equal(js.additionalProperties, false);
    for (const [k, v] of Object.entries(js.properties)) assert.ok(v.description, `${k} has no description`);
    assert.ok('host-netns' in js.properties && 'command' in js.properties);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
