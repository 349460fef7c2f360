// Mutation testing (StrykerJS 9, the last major that runs on Node 20) for cordon's policy core.
//
// One run mutates one target: a few source files and only the test files that exercise them,
// because a mutant is tested by re-running whole test files (see the tap runner below) and the
// machine is small. Pick the target with CORDON_MUTATE=<name>; `make mutation` runs them in turn.
// TESTING.md has the scores, durations and the survivors that are equivalent mutants.
//
//   CORDON_MUTATE=verify-checks npx stryker run
//
// Test runner: @stryker-mutator/tap-runner runs `node -r <stryker hook> --import tsx
// --test-reporter=tap FILE` once per test file, in-process (no `--test`, which would fork a child
// the hook cannot see), so coverage is known per test file and a mutant re-runs only the files
// that reach it. Files are listed fastest and sharpest first: the run stops at the first failing
// file.

const TARGETS = {
  // `cordon test`: expectations and invariants with their witnesses.
  'verify-checks': {
    mutate: ['src/verify/checks.ts'],
    tests: ['test/invariants.test.ts', 'test/examples.test.ts', 'test/mutation-kills/checks.test.ts'],
  },
  // The static reachability engine and what stands on it (explain, endpoints, diff, matrix).
  'verify-engine': {
    mutate: [
      'src/verify/engine.ts',
      'src/verify/chain-eval.ts',
      'src/verify/endpoints.ts',
      'src/verify/explain.ts',
      'src/verify/source-index.ts',
      'src/verify/matrix.ts',
      'src/verify/diff.ts',
    ],
    tests: [
      'test/invariants.test.ts',
      'test/examples.test.ts',
      'test/golden.test.ts',
      'test/sandbox-from-spec.test.ts',
      'test/diff.test.ts',
      'test/mutation-kills/engine.test.ts',
    ],
  },
  // The interval-box fast matrix and the brute-force oracle it is checked against.
  'verify-fast': {
    mutate: ['src/verify/fast-matrix.ts', 'src/verify/brute.ts', 'src/verify/box.ts'],
    tests: ['test/fast-matrix.test.ts', 'test/lint.test.ts', 'test/property.test.ts'],
  },
  // lint.test.ts's 'cordon lint' block spawns the CLI (seconds per case), which runs without the
  // active mutant and so kills nothing, and its 'box algebra' block tests box.ts: both are skipped
  // by name, which takes the file from 20 s to 1.4 s per mutant.
  'verify-lint': {
    // The analysis (isSubject … tunnelFindings: which rule is shadowed, redundant, overlapping);
    // the message wording, the any-port and unused-name findings below line 449 are not run yet.
    mutate: ['src/verify/lint.ts:57-449'],
    tests: ['test/mutation-kills/lint.test.ts', 'test/lint.test.ts'],
    nodeArgs: ['--test-name-pattern=^lint'],
  },
  // Spec model → IR chains and rules; the topology and path search.
  // Split in two so each finishes on its own: compile.ts first (the policy → chains step), then
  // the topology and path search. types.ts is types plus pointId (string building, goldens).
  // Three test files only: on a loaded 2-core machine one test-file run costs ~6 s, mostly the
  // process start, so a survivor costs that per file. The goldens (ir.json, matrices) first: they
  // kill most mutants in one run; the kill file judges the rest by matrix cells; invariants the
  // isolated-leg checks; check-diagnostics the hand-written chain with no host (CORDON039).
  // checks, examples, sandbox-from-spec and bad were dropped: they add hours, and few kills.
  ir: {
    // Lines 33-212 and 285-460: placement, default policies, source/destination grouping, policy,
    // egress and open drafts, the chains. Run first on a loaded machine; the rest (the rule index,
    // tunnel listen, kill switch, loopback) is added in an incremental run: see TESTING.md.
    mutate: process.env.CORDON_MUTATE_ALL === '1' ? ['src/ir/compile.ts'] : ['src/ir/compile.ts:33-212', 'src/ir/compile.ts:285-460'],
    tests: ['test/golden.test.ts', 'test/mutation-kills/compile.test.ts', 'test/invariants.test.ts', 'test/check-diagnostics.test.ts'],
  },
  'ir-paths': {
    mutate: ['src/ir/paths.ts'],
    tests: ['test/checks.test.ts', 'test/mutation-kills/checks.test.ts', 'test/invariants.test.ts', 'test/examples.test.ts', 'test/golden.test.ts'],
  },
  // The nftables renderer. Its box algebra and names have a kernel-free test; the round trip
  // (render → nft -f in a namespace → nft -j → IR, same matrix) is added with CORDON_MUTATE_NETNS=1
  // (root, nft). Not by default: a mutant that makes the round trip time out gets its test process
  // killed by Stryker, and a killed process leaves its namespace behind (see TESTING.md).
  nftables: {
    mutate: ['src/render/nftables/**/*.ts'],
    tests: [
      'test/mutation-kills/nftables.test.ts',
      'test/render-nftables.test.ts',
      ...(process.env.CORDON_MUTATE_NETNS === '1' ? ['test/roundtrip.test.ts'] : []),
    ],
  },
  // The renderer's rule text (index.ts: chains, hooks, sets, verdict lines, bindings; lines 106 to
  // the end, i.e. not the file header and table set-up above). Goldens first (cheap, byte for
  // byte, the 'kernel's own parser' block skipped by name: nft -c per example), then the kernel
  // round trip in anonymous namespaces, which judges what survives them by meaning.
  // tunnels.test.ts's kernel block: a guest's guest-in must not run for its tunnel address.
  'nftables-render': {
    // Restricted so that one run stays under ~40 min on the shared machine: renderChain (the hook
    // chains and the per-guest preambles), bindingPrefix, fmtAddr and renderRules. Left out: the
    // file header, setOf, the NFLOG/log prefixes, verdictLines and fmtProto/fmtPort.
    mutate:
      process.env.CORDON_MUTATE_ALL === '1'
        ? ['src/render/nftables/index.ts:106-355']
        : [
            'src/render/nftables/index.ts:114-160',
            'src/render/nftables/index.ts:193-219',
            'src/render/nftables/index.ts:233-241',
            'src/render/nftables/index.ts:272-355',
          ],
    tests: ['test/render-nftables.test.ts', 'test/mutation-kills/tunnels.test.ts', 'test/mutation-kills/nftables-kernel.test.ts'],
    nodeArgs: ['--test-name-pattern=goldens|kernel round trip|the kernel runs guest-in'],
  },
  // The pure parts of the lab's live = static comparison (probe choice, lab addresses). The
  // comparison inside verifyLab runs only against a live lab: see TESTING.md.
  'lab-verify': {
    mutate: ['src/lab/verify.ts'],
    tests: ['test/mutation-kills/lab-verify.test.ts'],
  },
  // `cordon run`'s policy: config file, plan (what is allowed, denied, mounted), spec → policy.
  sandbox: {
    mutate: [
      'src/sandbox/config.ts',
      'src/sandbox/plan.ts',
      'src/sandbox/ruleset.ts',
      'src/sandbox/options.ts',
      'src/sandbox/values.ts',
      'src/sandbox/from-spec.ts',
      'src/sandbox/dns.ts',
      'src/sandbox/spec-hosts.ts',
    ],
    tests: ['test/sandbox-config.test.ts', 'test/sandbox-from-spec.test.ts', 'test/sandbox-wireguard.test.ts', 'test/mutation-kills/spec-hosts.test.ts'],
  },
};

const name = process.env.CORDON_MUTATE ?? 'verify-checks';
const target = TARGETS[name];
if (!target) {
  throw new Error(`CORDON_MUTATE=${name}: unknown target; expected one of ${Object.keys(TARGETS).join(', ')}`);
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  $schema: './node_modules/@stryker-mutator/core/schema/stryker-schema.json',
  packageManager: 'npm',
  plugins: ['@stryker-mutator/tap-runner'],
  testRunner: 'tap',
  tap: {
    testFiles: target.tests,
    nodeArgs: ['--import', 'tsx', '--test-reporter=tap', ...(target.nodeArgs ?? [])],
    // Never kill a test file half-way: the netns tests remove their namespaces on the way out.
    forceBail: false,
  },
  mutate: target.mutate,
  coverageAnalysis: 'perTest',
  // Module-level (static) mutants would re-run every test file for each; they are few (constant
  // tables) and are reported as ignored instead.
  ignoreStatic: true,
  concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 2),
  timeoutMS: Number(process.env.STRYKER_TIMEOUT_MS ?? 10000),
  // Re-running after adding a test only re-tests the mutants whose code or tests changed.
  incremental: true,
  incrementalFile: `reports/mutation/${name}.incremental.json`,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0 },
  tempDirName: '.stryker-tmp',
  // .tools (promtool, …) is a symlink to a directory in a worktree, which Stryker cannot copy.
  ignorePatterns: ['/dist', '/reports', '/bench', '/.cordon', '/tmp', '/.tools'],
  thresholds: { high: 80, low: 60, break: null },
};
