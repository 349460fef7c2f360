/**
 * prometheus target: what watching the guard needs besides the guard itself.
 *
 *   prometheus/cordon-alerts.yml      alerting rules (rule_files: in prometheus.yml), see alerts.ts
 *   prometheus/cordon-dashboard.json  a Grafana dashboard over the same metrics, see dashboard.ts
 *
 * From the spec come the hosts (whose guard must report, and the dashboard's host list) and the
 * thresholds of its `guard:` section; the metric names are the guard's (metrics.ts). `--host H`
 * narrows both to H. Pure: the same spec gives the same bytes.
 */
import { diag } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { Ir } from '../../ir/types.js';
import { unknownNameHint } from '../../util/suggest.js';
import { commented, Emitter, headerLines } from '../emit.js';
import type { Renderer, RenderOptions, RenderResult } from '../types.js';
import { yamlLines } from '../yaml.js';
import { alertRules } from './alerts.js';
import { dashboard } from './dashboard.js';

export const ALERTS_FILE = 'prometheus/cordon-alerts.yml';
export const DASHBOARD_FILE = 'prometheus/cordon-dashboard.json';
export const ALERT_GROUP = 'cordon-guard';

export const prometheusRenderer: Renderer = {
  name: 'prometheus',
  description: "alerting rules and a Grafana dashboard for the guard's metrics (cordon guard --metrics)",
  params: [],
  render(ir: Ir, opts: RenderOptions): RenderResult {
    const model = ir.model;
    const all = [...model.hosts.keys()].sort();
    if (opts.host !== undefined && !model.hosts.has(opts.host))
      return {
        files: [],
        diagnostics: [diag(Code.UNKNOWN_NAME, 'error', `unknown host '${opts.host}'`, { file: model.file }, unknownNameHint(opts.host, all))],
      };
    const hosts = opts.host === undefined ? all : [opts.host];
    // The hosts a guard runs on: those whose rule set enforces something (cordon apply loads one there).
    const enforcing = [...new Set([...ir.chains.values()].map((c) => c.enforcedOn))].filter((h) => hosts.includes(h)).sort();
    const alerts = new Emitter();
    alerts.lines_(
      commented(
        headerLines(
          model,
          `Prometheus alerting rules for the cordon guard's metrics: list this file under rule_files: in prometheus.yml, check it with promtool check rules.`,
        ),
        '# ',
      ),
    );
    alerts.lines_(yamlLines({ groups: [{ name: ALERT_GROUP, rules: alertRules(model, enforcing) }] }));
    return {
      files: [
        { path: ALERTS_FILE, content: alerts.toString(), secret: false },
        { path: DASHBOARD_FILE, content: `${JSON.stringify(dashboard(model, hosts), null, 2)}\n`, secret: false },
      ],
      diagnostics: [],
    };
  },
};
