/** `cordon describe FILE`: the topology and enforcement points cordon understood from a spec. */
import type { Command } from 'commander';
import { topologyToText } from '../../report/topology.js';
import { useColor } from '../io.js';
import { loadIr } from '../load.js';

export function registerDescribe(program: Command): void {
  program
    .command('describe')
    .description('summarise what cordon understood: networks, tunnels, hosts, enforcement points')
    .argument('<file>', 'spec file; - reads standard input')
    .action((file: string) => {
      process.stdout.write(`${topologyToText(loadIr(file), useColor())}\n`);
    });
}
