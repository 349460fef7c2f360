/**
 * prometheus target: goldens for every example, byte-identical re-renders, and Prometheus' own
 * tool on what it writes — `promtool check rules` on the alerting rules, `promtool test rules`
 * feeding series through them (each alert fires on what it is about and stays quiet below its
 * threshold; the spec's `guard:` thresholds move them), and every PromQL expression of the
 * dashboard checked the same way. The dashboard's structure is checked against a schema of the
 * Grafana JSON model it uses (panels on the 24-column grid without overlap, unique ids, the data
 * source variable). The metric names the target uses and the guard's registry must agree both ways.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { z } from 'zod';
import { GuardMetrics } from '../src/guard/metrics.js';
import { ALERT_GROUP, ALERTS_FILE, DASHBOARD_FILE, prometheusRenderer } from '../src/render/prometheus/index.js';
import { GUARD_WIDE_METRICS, METRIC_NAMES } from '../src/render/prometheus/metrics.js';
import { hostMatcher, labelValue } from '../src/render/prometheus/promql.js';
import { RENDERERS } from '../src/render/registry.js';
import type { RenderResult } from '../src/render/types.js';
import { checkGolden, exampleFiles, exampleName, irOfFile, irOfText, render, run } from './support/golden.js';
import { checkRules, NO_PROMTOOL, PROMTOOL } from './support/promtool.js';
import { skipOrFail } from './support/require-env.js';

const tmp = mkdtempSync(join(tmpdir(), 'cordon-prometheus-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function fileOf(r: RenderResult, path: string): string {
  const f = r.files.find((x) => x.path === path);
  assert.ok(f, `no ${path} among ${r.files.map((x) => x.path).join(', ')}`);
  return f.content;
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function rulesOf(r: RenderResult): Rule[] {
  const doc = parse(fileOf(r, ALERTS_FILE)) as { groups: { name: string; rules: Rule[] }[] };
  assert.equal(doc.groups.length, 1);
  assert.equal(doc.groups[0]!.name, ALERT_GROUP);
  return doc.groups[0]!.rules;
}

/** Metric names an expression refers to (the guard's prefixes; PromQL functions and labels never start so). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b(?:agent|cordon)_[a-z_]+\b/g)].map((m) => m[0]);
}

/** Writes `text` under tmp and returns the path. */
function put(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

// ---------------------------------------------------------------------------------------------
// The Grafana JSON model, as far as the dashboard uses it (classic model; Grafana's own reference:
// "Dashboard JSON model"). strictObject where cordon writes the object whole, so a typo is caught.

const GridPos = z.strictObject({
  x: z.number().int().min(0).max(23),
  y: z.number().int().min(0),
  w: z.number().int().min(1).max(24),
  h: z.number().int().min(1),
});
const Datasource = z.strictObject({ type: z.literal('prometheus'), uid: z.literal('${datasource}') });
const Target = z.strictObject({ refId: z.string().regex(/^[A-Z]$/), expr: z.string().min(1), legendFormat: z.string() });
const Threshold = z.strictObject({ mode: z.literal('absolute'), steps: z.array(z.strictObject({ color: z.string(), value: z.number().nullable() })).min(1) });
const Panel = z.strictObject({
  id: z.number().int().positive(),
  type: z.enum(['stat', 'timeseries']),
  title: z.string().min(1),
  description: z.string().min(1),
  gridPos: GridPos,
  datasource: Datasource,
  targets: z.array(Target).min(1),
  fieldConfig: z.object({ defaults: z.object({ unit: z.string(), thresholds: Threshold }).loose(), overrides: z.array(z.unknown()) }),
  options: z.record(z.string(), z.unknown()),
});
const Variable = z.union([
  z.strictObject({
    name: z.literal('datasource'),
    label: z.string(),
    type: z.literal('datasource'),
    query: z.literal('prometheus'),
    current: z.object({}),
    hide: z.literal(0),
  }),
  z.strictObject({
    name: z.literal('host'),
    label: z.string(),
    type: z.literal('custom'),
    query: z.string(),
    multi: z.boolean(),
    includeAll: z.boolean(),
    current: z.object({ selected: z.boolean(), text: z.array(z.string()), value: z.array(z.string()) }),
    options: z.array(z.strictObject({ selected: z.boolean(), text: z.string(), value: z.string() })),
    hide: z.literal(0),
  }),
]);
const Dashboard = z.strictObject({
  uid: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'Grafana uids are at most 40 characters of letters, digits, "_" and "-"'),
  title: z.string().min(1),
  description: z.string(),
  tags: z.array(z.string()),
  timezone: z.enum(['browser', 'utc', '']),
  editable: z.boolean(),
  graphTooltip: z.number().int().min(0).max(2),
  refresh: z.string(),
  schemaVersion: z.number().int().min(36),
  version: z.number().int(),
  time: z.strictObject({ from: z.string(), to: z.string() }),
  annotations: z.strictObject({ list: z.array(z.unknown()) }),
  links: z.array(z.unknown()),
  templating: z.strictObject({ list: z.array(Variable) }),
  panels: z.array(Panel).min(1),
});
type DashboardT = z.infer<typeof Dashboard>;

function dashboardOf(r: RenderResult): DashboardT {
  const parsed = Dashboard.safeParse(JSON.parse(fileOf(r, DASHBOARD_FILE)));
  assert.ok(parsed.success, parsed.success ? '' : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'));
  return parsed.data;
}

/** Every expression of the dashboard as Prometheus sees it once Grafana filled in its variables. */
function dashboardExprs(d: DashboardT): { name: string; expr: string }[] {
  return d.panels.flatMap((p) =>
    p.targets.map((t) => ({
      name: `cordon:panel_${p.id}_${t.refId}`,
      expr: t.expr
        .replace(/\$__rate_interval/g, '1m')
        .replace(/\$__range/g, '6h')
        .replace(/\$host/g, '.*'),
    })),
  );
}

// ---------------------------------------------------------------------------------------------

describe('prometheus target: examples', () => {
  for (const file of exampleFiles()) {
    const name = exampleName(file);
    it(`${name}: matches the golden files and renders identically twice`, (t) => {
      const ir = irOfFile(file);
      if (!ir) return t.skip(`${name} does not resolve`);
      const a = render(prometheusRenderer, ir);
      assert.deepEqual(a, render(prometheusRenderer, irOfFile(file)!));
      assert.deepEqual(a.diagnostics, []);
      assert.deepEqual(
        a.files.map((f) => f.path),
        [ALERTS_FILE, DASHBOARD_FILE],
      );
      checkGolden(name, 'prometheus', a);
    });

    it(`${name}: promtool check rules accepts the alerts and every dashboard expression`, (t) => {
      const ir = irOfFile(file);
      if (!ir) return t.skip(`${name} does not resolve`);
      if (!PROMTOOL) return skipOrFail(t, NO_PROMTOOL);
      const r = render(prometheusRenderer, ir);
      const alerts = put(`${name}-alerts.yml`, fileOf(r, ALERTS_FILE));
      const c = checkRules(PROMTOOL, [alerts]);
      assert.equal(c.code, 0, `promtool check rules:\n${c.out}`);
      assert.match(c.out, new RegExp(`SUCCESS: ${rulesOf(r).length} rules found`));
      // The dashboard's queries as recording rules: promtool parses each one as PromQL.
      const exprs = dashboardExprs(dashboardOf(r));
      const recording = put(
        `${name}-dashboard-rules.yml`,
        JSON.stringify({ groups: [{ name: 'dashboard', rules: exprs.map((e) => ({ record: e.name, expr: e.expr })) }] }),
      );
      const d = checkRules(PROMTOOL, [recording]);
      assert.equal(d.code, 0, `promtool check rules (dashboard queries):\n${d.out}`);
      assert.match(d.out, new RegExp(`SUCCESS: ${exprs.length} rules found`));
    });

    it(`${name}: the dashboard follows the Grafana JSON model (grid, ids, variables)`, (t) => {
      const ir = irOfFile(file);
      if (!ir) return t.skip(`${name} does not resolve`);
      const d = dashboardOf(render(prometheusRenderer, ir));
      const ids = d.panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
      for (const p of d.panels) {
        assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title}: inside the 24-column grid`);
        const refs = p.targets.map((x) => x.refId);
        assert.equal(new Set(refs).size, refs.length, `${p.title}: refIds are unique`);
      }
      for (const a of d.panels)
        for (const b of d.panels) {
          if (a.id >= b.id) continue;
          const overlap =
            a.gridPos.x < b.gridPos.x + b.gridPos.w &&
            b.gridPos.x < a.gridPos.x + a.gridPos.w &&
            a.gridPos.y < b.gridPos.y + b.gridPos.h &&
            b.gridPos.y < a.gridPos.y + a.gridPos.h;
          assert.ok(!overlap, `panels '${a.title}' and '${b.title}' overlap`);
        }
      const host = d.templating.list.find((v) => v.name === 'host');
      assert.ok(host && host.type === 'custom');
      assert.deepEqual(host.query.split(','), [...ir.model.hosts.keys()].sort(), 'the host variable lists the spec hosts');
      for (const p of d.panels)
        for (const x of p.targets)
          assert.ok(x.expr.includes('$host') || GUARD_WIDE_METRICS.some((m) => x.expr.includes(m)), `${p.title}: follows the host variable`);
    });
  }
});

describe('prometheus target: the metric names are the guard’s', () => {
  it('the target’s list and the guard’s registry agree both ways, and every query uses only those', async () => {
    const registry = (await new GuardMetrics().registry.getMetricsAsJSON()).map((m) => m.name).sort();
    assert.deepEqual([...METRIC_NAMES].sort(), registry);
    const ir = irOfFile(exampleFiles().find((f) => exampleName(f) === 'vpn-only-vm')!)!;
    const r = render(prometheusRenderer, ir);
    const used = new Set([
      ...rulesOf(r).flatMap((x) => metricsIn(x.expr)),
      ...dashboardOf(r).panels.flatMap((p) => p.targets.flatMap((x) => metricsIn(x.expr))),
    ]);
    for (const m of used) assert.ok(registry.includes(m), `${m} is not a metric of the guard`);
    // Every metric the guard writes is on the dashboard.
    for (const m of registry) assert.ok(used.has(m), `${m} is on no panel and in no alert`);
  });

  it('every label a query groups or matches by is a label of the metrics it reads', () => {
    const metrics = new GuardMetrics();
    const labelsOf = (name: string): string[] => (metrics.registry.getSingleMetric(name) as unknown as { labelNames: string[] } | undefined)?.labelNames ?? [];
    const ir = irOfFile(exampleFiles().find((f) => exampleName(f) === 'vpn-only-vm')!)!;
    const r = render(prometheusRenderer, ir);
    const exprs = [...rulesOf(r).map((x) => x.expr), ...dashboardOf(r).panels.flatMap((p) => p.targets.map((x) => x.expr))];
    let checked = 0;
    for (const expr of exprs) {
      const known = new Set(metricsIn(expr).flatMap(labelsOf));
      const grouped = [...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim()));
      const matched = [...expr.matchAll(/[{,]\s*([a-z_]+)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]!);
      for (const l of [...grouped, ...matched]) {
        assert.ok(known.has(l), `${expr}: '${l}' is not a label of ${metricsIn(expr).join(', ')}`);
        checked++;
      }
    }
    assert.ok(checked > 20, `only ${checked} labels found: the pattern no longer reads the queries`);
    assert.ok(
      exprs.some((e) => e.includes('cordon_anomalies_total') && /\bdirection\b/.test(e)),
      'the anomalies are told apart by direction somewhere',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// promtool test rules: series in, alerts out.

const SPEC = (guard: string): string => `version: 1
networks:
  lan0: { cidr: 10.1.0.0/24, egress: nat }
hosts:
  hv: { kind: hypervisor, nics: { lan0: 10.1.0.1 } }
  agent: { kind: vm, id: 101, nics: { lan0: 10.1.0.10 }, egress: isolated }
${guard}`;

/** The alert's annotations as Prometheus expands them, for the few templates the rules use. */
function expand(text: string, labels: Record<string, string>, value: string): string {
  return text
    .replace(/\{\{ \$labels\.([a-z]+) \}\}/g, (_, k: string) => labels[k] ?? '')
    .replace(/\{\{ \$value \| humanize \}\}/g, value)
    .replace(/\{\{ \$value \}\}/g, value);
}

interface Case {
  readonly name: string;
  readonly alert: string;
  readonly series: readonly { readonly series: string; readonly values: string }[];
  readonly at: string;
  /** Labels of the expected alerts (besides alertname and severity); [] = must not fire. */
  readonly fires: readonly Record<string, string>[];
  readonly value?: string;
}

function unitTest(rules: Rule[], alertsPath: string, cases: readonly Case[]): string {
  const tests = cases.map((c) => {
    const rule = rules.find((r) => r.alert === c.alert);
    assert.ok(rule, `no alert ${c.alert}`);
    return {
      interval: '1m',
      input_series: c.series,
      alert_rule_test: [
        {
          eval_time: c.at,
          alertname: c.alert,
          exp_alerts: c.fires.map((labels) => ({
            exp_labels: { ...labels, severity: rule.labels!.severity! },
            exp_annotations: Object.fromEntries(Object.entries(rule.annotations!).map(([k, v]) => [k, expand(v, labels, c.value ?? '')])),
          })),
        },
      ],
    };
  });
  return JSON.stringify({ rule_files: [alertsPath], evaluation_interval: '1m', tests });
}

/** A counter growing by `perMin` each minute for `n` minutes. */
function growing(perMin: number, n = 15): string {
  return `0+${perMin}x${n}`;
}

/** The agent's guard, running: in the vpn-only variant the agent enforces its own egress, so a guard is expected there too. */
const AGENT_UP = { series: 'cordon_guard_up{host="agent"}', values: '1 1 1 1 1 1 1 1' };

describe('prometheus target: the alerts fire on what they are about (promtool test rules)', () => {
  const cases = (blockedThreshold: number): Case[] => [
    {
      name: 'kill switch engaged',
      alert: 'CordonKillswitchEngaged',
      series: [{ series: 'cordon_killswitch_engaged{host="hv"}', values: '0 0 1 1' }],
      at: '3m',
      fires: [{ host: 'hv' }],
    },
    {
      name: 'kill switch off',
      alert: 'CordonKillswitchEngaged',
      series: [{ series: 'cordon_killswitch_engaged{host="hv"}', values: '0 0 0 0' }],
      at: '3m',
      fires: [],
    },
    {
      name: 'drift that stays',
      alert: 'CordonRulesetDrift',
      series: [{ series: 'cordon_ruleset_drift{host="hv"}', values: '0 1 1 1 1' }],
      at: '4m',
      fires: [{ host: 'hv' }],
    },
    {
      name: 'drift re-applied at once',
      alert: 'CordonRulesetDrift',
      series: [{ series: 'cordon_ruleset_drift{host="hv"}', values: '0 1 0 0 0' }],
      at: '4m',
      fires: [],
    },
    {
      name: 'tampering, even re-applied',
      alert: 'CordonRulesetTampered',
      series: [{ series: 'cordon_ruleset_tamper_total{host="hv"}', values: '0 0 1 1 1' }],
      at: '4m',
      fires: [{ host: 'hv' }],
      value: '1',
    },
    {
      name: 'a guard that stopped',
      alert: 'CordonGuardDown',
      series: [{ series: 'cordon_guard_up{host="hv"}', values: '1 0 0 0 0 0 0 0' }, AGENT_UP],
      at: '7m',
      fires: [{ host: 'hv' }],
    },
    {
      name: 'a guard never seen',
      alert: 'CordonGuardDown',
      series: [{ series: 'cordon_guard_up{host="other"}', values: '1 1 1 1 1 1 1 1' }, AGENT_UP],
      at: '7m',
      fires: [{ host: 'hv' }],
    },
    {
      name: 'a guard that runs',
      alert: 'CordonGuardDown',
      series: [{ series: 'cordon_guard_up{host="hv"}', values: '1 1 1 1 1 1 1 1' }, AGENT_UP],
      at: '7m',
      fires: [],
    },
    {
      name: 'blocked attempts above the threshold',
      alert: 'CordonBlockedAttempts',
      series: [
        { series: 'agent_network_blocked_connections_total{host="agent",proto="tcp",class="internet"}', values: growing(blockedThreshold + 30) },
        { series: 'agent_network_blocked_connections_total{host="hv",proto="udp",class="lan"}', values: growing(blockedThreshold - 10) },
      ],
      at: '10m',
      fires: [{ host: 'agent' }],
      value: String(blockedThreshold + 30),
    },
    {
      name: 'an anomaly',
      alert: 'CordonAnomaly',
      series: [
        { series: 'cordon_anomalies_total{host="agent",kind="blocked",direction="up"}', values: '0 0 1 1' },
        { series: 'cordon_anomalies_total{host="agent",kind="connections",direction="up"}', values: '0 0 0 0' },
        { series: 'cordon_anomalies_total{host="hv",kind="connections",direction="down"}', values: '0 0 1 1' },
      ],
      at: '3m',
      fires: [{ host: 'agent', kind: 'blocked' }],
    },
    {
      name: 'an anomaly of a guard from before the direction label',
      alert: 'CordonAnomaly',
      series: [{ series: 'cordon_anomalies_total{host="agent",kind="connections"}', values: '0 0 1 1' }],
      at: '3m',
      fires: [{ host: 'agent', kind: 'connections' }],
    },
    {
      name: 'connections that stopped',
      alert: 'CordonConnectionsStopped',
      series: [
        { series: 'cordon_anomalies_total{host="hv",kind="connections",direction="down"}', values: '0 0 1 1' },
        { series: 'cordon_anomalies_total{host="agent",kind="connections",direction="up"}', values: '0 0 1 1' },
        { series: 'cordon_anomalies_total{host="agent",kind="blocked",direction="up"}', values: '0 0 1 1' },
      ],
      at: '3m',
      fires: [{ host: 'hv' }],
    },
    {
      name: 'events dropped',
      alert: 'CordonEventsDropped',
      series: [{ series: 'cordon_events_dropped_total', values: '0 0 3 3' }],
      at: '3m',
      fires: [{}],
      value: '3',
    },
  ];

  it('with the default thresholds', (t) => {
    if (!PROMTOOL) return skipOrFail(t, NO_PROMTOOL);
    const r = render(prometheusRenderer, irOfText(SPEC('')));
    const alerts = put('default-alerts.yml', fileOf(r, ALERTS_FILE));
    const u = run(PROMTOOL, ['test', 'rules', put('default-tests.yml', unitTest(rulesOf(r), alerts, cases(60)))])!;
    assert.equal(u.code, 0, `promtool test rules:\n${u.out}`);
    assert.match(u.out, /SUCCESS/);
  });

  it("with the spec's guard: thresholds (blocked 20 a minute, vpn down after 60 s)", (t) => {
    if (!PROMTOOL) return skipOrFail(t, NO_PROMTOOL);
    const text = `${SPEC('guard: { blockedPerMinute: 20, vpnDownAfter: 60 }\n')}tunnels:\n  wg0: { server: hv, listen: 51820, cidr: 10.9.0.0/24 }\n`
      .replace('lan0: 10.1.0.1 }', 'lan0: 10.1.0.1, wg0: 10.9.0.1 }')
      .replace('lan0: 10.1.0.10 }, egress: isolated', 'lan0: 10.1.0.10, wg0: 10.9.0.10 }, egress: vpn-only');
    const r = render(prometheusRenderer, irOfText(text));
    const rules = rulesOf(r);
    assert.equal(rules.find((x) => x.alert === 'CordonBlockedAttempts')?.expr.endsWith('> 20'), true);
    const alerts = put('spec-alerts.yml', fileOf(r, ALERTS_FILE));
    const vpn: Case[] = [
      {
        name: 'handshake too old',
        alert: 'CordonVpnHandshakeStale',
        series: [
          { series: 'cordon_vpn_handshake_age_seconds{host="agent",peer="hv"}', values: '10 70 130' },
          { series: 'cordon_vpn_handshake_age_seconds{host="hv",peer="agent"}', values: '10 20 30' },
        ],
        at: '2m',
        fires: [{ host: 'agent', peer: 'hv' }],
        value: '130',
      },
      {
        name: 'a rogue connection that got out',
        alert: 'CordonRogueConnectionLeaked',
        series: [
          { series: 'cordon_rogue_connections_total{host="agent",verdict="allowed"}', values: '0 0 0 0 0 0 1 1 1' },
          { series: 'cordon_rogue_connections_total{host="agent",verdict="blocked"}', values: '0 0 0 0 0 0 5 9 9' },
        ],
        at: '8m',
        fires: [{ host: 'agent', verdict: 'allowed' }],
        value: '1',
      },
      {
        name: 'rogue attempts, blocked',
        alert: 'CordonRogueAttempts',
        series: [
          { series: 'cordon_rogue_connections_total{host="agent",verdict="allowed"}', values: '0 0 0 0 0 0 0 0 0' },
          { series: 'cordon_rogue_connections_total{host="agent",verdict="blocked"}', values: '0 0 0 0 0 0 5 9 9' },
        ],
        at: '8m',
        fires: [{ host: 'agent', verdict: 'blocked' }],
        value: '9',
      },
      {
        name: 'no rogue connection',
        alert: 'CordonRogueConnectionLeaked',
        series: [{ series: 'cordon_rogue_connections_total{host="agent",verdict="allowed"}', values: '0 0 0 0 0 0 0 0 0' }],
        at: '8m',
        fires: [],
      },
    ];
    const u = run(PROMTOOL, ['test', 'rules', put('spec-tests.yml', unitTest(rules, alerts, [...cases(20), ...vpn]))])!;
    assert.equal(u.code, 0, `promtool test rules:\n${u.out}`);
  });

  it('a unit test that expects the wrong alert fails (the check can fail)', (t) => {
    if (!PROMTOOL) return skipOrFail(t, NO_PROMTOOL);
    const r = render(prometheusRenderer, irOfText(SPEC('')));
    const alerts = put('neg-alerts.yml', fileOf(r, ALERTS_FILE));
    const wrong: Case = {
      name: 'kill switch off',
      alert: 'CordonKillswitchEngaged',
      series: [{ series: 'cordon_killswitch_engaged{host="hv"}', values: '0 0 0 0' }],
      at: '3m',
      fires: [{ host: 'hv' }],
    };
    const u = run(PROMTOOL, ['test', 'rules', put('neg-tests.yml', unitTest(rulesOf(r), alerts, [wrong]))])!;
    assert.notEqual(u.code, 0);
    assert.match(u.out, /FAILED/);
  });

  it('leaves the VPN alert out of a spec without tunnels', () => {
    const rules = rulesOf(render(prometheusRenderer, irOfText(SPEC(''))));
    assert.ok(!rules.some((x) => x.alert === 'CordonVpnHandshakeStale'));
    assert.ok(rules.some((x) => x.alert === 'CordonKillswitchEngaged'));
  });
});

describe('prometheus target: --host and hostile names', () => {
  it('narrows the guards expected and the host list to --host, and refuses an unknown host with a hint', () => {
    const ir = irOfText(SPEC(''));
    const one = render(prometheusRenderer, ir, {}, 'hv');
    assert.deepEqual(one.diagnostics, []);
    const down = rulesOf(one).find((x) => x.alert === 'CordonGuardDown')!;
    assert.equal(down.expr, 'cordon_guard_up{host="hv"} == 0\nor\nabsent(cordon_guard_up{host="hv"})');
    const bad = render(prometheusRenderer, ir, {}, 'hx');
    assert.equal(bad.files.length, 0);
    assert.equal(bad.diagnostics[0]?.code, 'CORDON004');
    assert.match(bad.diagnostics[0]?.hint ?? '', /'hv'/);
  });

  it('writes spec names into PromQL only when they are inert there', () => {
    assert.equal(hostMatcher(['b', 'a', 'b']), 'host=~"a|b"');
    assert.equal(hostMatcher(['a-1']), 'host="a-1"');
    for (const bad of ['a"b', 'a|b', 'a\\b', 'a}', '.*', 'a\nb']) assert.throws(() => labelValue(bad), /PromQL/, bad);
  });

  it('is in the registry', () => {
    assert.ok(RENDERERS.some((r) => r.name === 'prometheus'));
  });
});
