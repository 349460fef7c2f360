/**
 * The IR: enforcement points, each one ordered chain of rules. A rule keeps its origin so any
 * verdict can be explained in the user's own words. Renderers, the verifier and the lab all read
 * this, never the spec.
 */
import type { Diagnostic } from '../diag/diagnostic.js';
import type { Hook, Model, Origin } from '../model/types.js';
import type { FlowSet } from '../util/flows.js';
import type { RangeSet } from '../util/rangeset.js';

export type Action = 'accept' | 'drop' | 'reject';

/** Why cordon put a rule there; lets renderers and lint tell policy from plumbing. */
export type RuleRole = 'policy' | 'egress' | 'stateful' | 'loopback' | 'antispoof' | 'tunnel' | 'handwritten';

export interface IrMatch {
  /** Source addresses; undefined = any. */
  readonly src: RangeSet | undefined;
  /** Destination addresses; undefined = any. */
  readonly dst: RangeSet | undefined;
  /** Protocols and destination ports; ALL_FLOWS = any. */
  readonly flows: FlowSet;
  /** Input interface names; undefined = any. */
  readonly iif: readonly string[] | undefined;
  readonly oif: readonly string[] | undefined;
  /**
   * Bridge port the packet entered through (tap101i0). A guest can forge its source address but not
   * its port, so rules about guests bind to it; renderers realise it with a bridge-family mark.
   */
  readonly inPort: readonly string[] | undefined;
  /** Connection state; undefined = any. The verifier asks about new connections. */
  readonly state: 'new' | 'established' | undefined;
}

export interface IrRule {
  /** Stable id: `<point>#<index>`. */
  readonly id: string;
  readonly index: number;
  readonly match: IrMatch;
  readonly action: Action;
  readonly log: boolean;
  readonly rate: string | undefined;
  readonly role: RuleRole;
  readonly origin: Origin;
  /** Index of the policy rule this came from, when it came from one. */
  readonly policyIndex: number | undefined;
}

export interface Chain {
  /** `<host>:<hook>`, e.g. `pve:forward`, `agent-1:guest-out`. */
  readonly point: string;
  /** The host the chain is about. */
  readonly host: string;
  readonly hook: Hook;
  /** The host whose kernel runs it (the bridge owner for guest-in/guest-out). */
  readonly enforcedOn: string;
  /** True when it runs inside an untrusted host: it counts only in the "configured" view. */
  readonly inGuest: boolean;
  readonly policy: 'accept' | 'drop';
  readonly policyOrigin: import('../model/types.js').Origin;
  readonly rules: readonly IrRule[];
  readonly handwritten: boolean;
}

export interface Ir {
  readonly model: Model;
  readonly chains: ReadonlyMap<string, Chain>;
  readonly diagnostics: readonly Diagnostic[];
}

export function pointId(host: string, hook: Hook): string {
  return `${host}:${hook}`;
}
