/**
 * compile builds chains host by host in the default collation's order of host names; plain names
 * are put in order without the collator (src/util/collate.ts), which must give that same order,
 * and any other name goes to the collator.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { irOfText } from './support/golden.js';

function specOf(names: readonly string[]): string {
  const hosts = names.map((n, i) => `  ${n}:\n    kind: server\n    nics:\n      lan: 192.168.1.${i + 10}\n`).join('');
  return `version: 1\nnetworks:\n  lan:\n    cidr: 192.168.1.0/24\n    gateway: 192.168.1.1\n    egress: nat\nhosts:\n${hosts}`;
}

function hostOrder(names: readonly string[]): string[] {
  const ir = irOfText(specOf(names));
  return [...new Set([...ir.chains.values()].map((c) => c.host))];
}

describe('the order compile builds chains in', () => {
  const collated = (names: readonly string[]): string[] => [...names].sort(new Intl.Collator().compare);
  it('is the collation order for names of a-z, 0-9 and "-"', () => {
    const names = ['web-10', 'web1', 'web-1', 'web', 'w9', 'db-2', 'db2', 'a-b', 'ab', 'a0', 'a-0', 'z'];
    assert.deepEqual(hostOrder(names), collated(names));
  });
  it('is the collation order when some name has other characters (upper case, "_")', () => {
    // Code-unit order would put B-host before a-host and a_x after a-y.
    const names = ['a-host', 'B-host', 'a_x', 'a-y', 'c1'];
    const want = collated(names);
    assert.notDeepEqual(want, [...names].sort(), 'the collation differs from code-unit order here');
    assert.deepEqual(hostOrder(names), want);
  });
});
