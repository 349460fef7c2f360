/**
 * dependency-cruiser rules for src/: the floors of the architecture (README "Architecture",
 * DESIGN.md "Layout"). `make lint` runs `depcruise src --config .dependency-cruiser.cjs`.
 *
 * A folder of src/ imports only from folders on a LOWER floor, never from its own floor (except
 * itself) nor from a higher one. Floors, bottom first:
 *
 *   0  util                        no import of anything else in cordon
 *   1  diag                        only util
 *   2  spec  vault                 schema + parse; secrets
 *   3  model  gen                  resolved topology + policy; synthetic specs
 *   4  ir                          enforcement points, rules, paths
 *   5  verify  render              pure; never import each other
 *   6  report  import              text/JSON views; configs → model
 *   7  system                      process runner, namespace listing, signals; knows nothing above it
 *   8  lab  sandbox  apply         runtime, each independent of the others
 *   9  guard                       the watcher over an enforcing host; may use the runtime below it
 *  10  server                      the library behind HTTP; nothing below imports it
 *   top  cli  (and src/index.ts)   the shells; nothing else in src imports cli (rule no-cli-import)
 *
 * Plus: no import cycles anywhere in src (type-only imports included), and no unresolvable import.
 * The rules are generated from FLOORS below; README's table says the same and must change with it.
 */
const FLOORS = [
  ['util'],
  ['diag'],
  ['spec', 'vault'],
  ['model', 'gen'],
  ['ir'],
  ['verify', 'render'],
  ['report', 'import'],
  ['system'],
  ['lab', 'sandbox', 'apply'],
  ['guard'],
  ['server'],
];

const floorRules = FLOORS.flatMap((floor, level) =>
  floor.flatMap((folder) => {
    // Everything on this floor (but the folder itself) and on every floor above it.
    const banned = FLOORS.slice(level)
      .flat()
      .filter((other) => other !== folder);
    // A folder alone on the top floor bans nothing of FLOORS (cli is no-cli-import's): no rule.
    if (banned.length === 0) return [];
    return {
      name: `floor-${folder}`,
      severity: 'error',
      comment: `src/${folder} (floor ${level}) may import only from lower floors; not from ${banned.join(', ')}`,
      from: { path: `^src/${folder}/` },
      to: { path: `^src/(${banned.join('|')})/` },
    };
  }),
);

module.exports = {
  forbidden: [
    ...floorRules,
    {
      name: 'no-cli-import',
      severity: 'error',
      comment: 'cli/ is the shell over the library: nothing else in src (src/index.ts included) imports it',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'no import cycles in src (type-only imports count: a cycle of types is still a tangle of floors)',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'an import that does not resolve to a file (a typo, or a moved module)',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports are dependencies of the design too: check them before TypeScript erases them.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Node's own modules (node:fs, …) are fine everywhere.
    exclude: { path: '^node_modules/' },
  },
};
