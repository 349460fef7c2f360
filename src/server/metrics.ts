/**
 * The server's own metrics in Prometheus text format. Labels are bounded: the route pattern
 * (`/api/specs/:id`), never the URL with its ids, and `unmatched` for unknown paths.
 * In memory: counters restart with the process, which Prometheus' rate() handles.
 */
export class Metrics {
  private readonly requests = new Map<string, number>();
  private durationSum = 0;
  private durationCount = 0;

  observe(method: string, route: string | undefined, status: number, seconds: number): void {
    const key = `method="${method}",route="${escapeLabel(route ?? 'unmatched')}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    this.durationSum += seconds;
    this.durationCount++;
  }

  /** The exposition text; `gauges` are read from the store at scrape time. */
  render(gauges: { specs: number; peers: number; events: number; users: number }): string {
    const out: string[] = [
      '# HELP cordon_server_http_requests_total HTTP requests answered, by method, route pattern and status.',
      '# TYPE cordon_server_http_requests_total counter',
    ];
    for (const [k, v] of [...this.requests].sort(([a], [b]) => a.localeCompare(b))) out.push(`cordon_server_http_requests_total{${k}} ${v}`);
    out.push(
      '# HELP cordon_server_http_request_duration_seconds Time to answer HTTP requests.',
      '# TYPE cordon_server_http_request_duration_seconds summary',
      `cordon_server_http_request_duration_seconds_sum ${this.durationSum}`,
      `cordon_server_http_request_duration_seconds_count ${this.durationCount}`,
      '# HELP cordon_server_specs Specs stored.',
      '# TYPE cordon_server_specs gauge',
      `cordon_server_specs ${gauges.specs}`,
      '# HELP cordon_server_wireguard_peers Active WireGuard peers handed out by the server.',
      '# TYPE cordon_server_wireguard_peers gauge',
      `cordon_server_wireguard_peers ${gauges.peers}`,
      '# HELP cordon_server_events Guard events stored.',
      '# TYPE cordon_server_events gauge',
      `cordon_server_events ${gauges.events}`,
      '# HELP cordon_server_accounts Accounts.',
      '# TYPE cordon_server_accounts gauge',
      `cordon_server_accounts ${gauges.users}`,
    );
    return `${out.join('\n')}\n`;
  }
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
