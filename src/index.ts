/**
 * cordon as a library: the same functions the CLI and (later) the server call.
 *
 *   import { loadModel, compile, Engine, computeMatrix, runChecks } from 'cordon';
 *   const { model, diagnostics } = loadModel('cordon.yaml');
 *   const ir = compile(model!);
 *   new Engine(ir).reach({ kind: 'host', host: 'ollama' }, { kind: 'zone', zone: 'internet' }, 'compromised');
 *
 * The runtime half (needs root): `upLab`/`verifyLabFor`/`downLabs` build and probe a lab,
 * `applyRuleset` loads a rendered rule set into a network namespace, `sandbox` runs one command
 * inside a policy; all of them sit on the process runner and namespace listing of src/system/.
 */
export type { Diagnostic, DiagCode, Severity } from './diag/diagnostic.js';
export { CODES } from './diag/diagnostic.js';
export { Code, DIAG_CODES, lookupCode, type CodeInfo } from './diag/codes.js';
export { formatDiagnostic, formatDiagnostics } from './diag/format.js';
export { SpecSchema, type Spec } from './spec/schema.js';
export { parseSpecText, readSpecFile } from './spec/parse.js';
export { loadModel, loadModelFromText, type LoadResult } from './model/load.js';
export type { Model, Host, Network, Tunnel, Target, PolicyRule, Expectation, Origin, Assume } from './model/types.js';
export { compile } from './ir/compile.js';
export type { Ir, Chain, IrRule, IrMatch } from './ir/types.js';
export { Topology, type Path, type Hop, type Source } from './ir/paths.js';
export { Engine, type Reach, type Dest } from './verify/engine.js';
export { computeMatrix, type Matrix } from './verify/matrix.js';
export { computeFastMatrix, CompactMatrix, type FastMatrixOptions, type FastMatrixStats } from './verify/fast-matrix.js';
export { BruteForce, bruteMatrix, type BruteOptions } from './verify/brute.js';
export { explain, type Explanation } from './verify/explain.js';
export { runChecks, type CheckResult } from './verify/checks.js';
export { lint } from './verify/lint.js';
export { lintChain } from './verify/lint-chain.js';
export { diffMatrices, type MatrixDiff } from './verify/diff.js';
export { generateSpec } from './gen/generate.js';
export { RENDERERS, findRenderer } from './render/registry.js';
export type { Renderer, RenderedFile, RenderResult } from './render/types.js';
export { formatFlowSet, parsePortSpec, type FlowSet, type Flow } from './util/flows.js';
export * as vault from './vault/index.js';
export { run, runAttached, firstError, type ExecResult, type RunOptions } from './system/exec.js';
export { listNetns, netnsNameProblem, runInNetns } from './system/netns.js';
export { withTeardown, Interrupted, INTERRUPTED_EXIT, INTERRUPT_SIGNALS, type TeardownOptions } from './system/interrupt.js';
export {
  upLab,
  verifyLabFor,
  downLab,
  downLabs,
  listLabs,
  labsOf,
  findLab,
  labExec,
  freshPrefix,
  dryRunPlan,
  leftoverNamespaces,
  LabChoiceError,
  type UpResult,
  type VerifyForOptions,
  type SignalOptions,
} from './lab/lab.js';
export { buildLab, teardownLab, LabError, type BuildOptions, type BuildReport, type Progress, type TeardownReport } from './lab/exec.js';
export { planLab, planToText, type LabPlan } from './lab/plan.js';
export { verifyLab, verifyToJson, type VerifyResult } from './lab/verify.js';
export { verifyToText } from './lab/text.js';
export { attackLab, attackToText } from './lab/attack.js';
export { generatedKeys, placeholderKeys } from './lab/keys.js';
export {
  applyRuleset,
  confirmRun,
  dryRun,
  rollbackLast,
  ApplyInternalError,
  type ApplyOptions,
  type ApplyOutcome,
  type ApplyStatus,
  type RollbackResult,
  type Fault,
} from './apply/apply.js';
export { netnsTarget, hostTarget, type Target as ApplyTarget } from './apply/target.js';
export { DEFAULT_STATE_ROOT as APPLY_STATE_ROOT } from './apply/state.js';
export { generateWgKeyPair, keyPairOf, publicKeyOf, isWgKey, type WgKeyPair } from './util/wgkey.js';
export {
  sandbox,
  SandboxError,
  SandboxInterrupted,
  resolveOptions,
  type SandboxInput,
  type SandboxResult,
  type DeniedAttempt,
  type Counters,
  type TunnelState,
} from './sandbox/run.js';
export { parseNetRule, type NetRule, type SandboxMode } from './sandbox/plan.js';
export { parseWgQuick, WgConfigError, type WgClient } from './sandbox/wireguard.js';
export { specEgress, type SpecEgress, type SpecEgressRule } from './sandbox/from-spec.js';
export {
  loadSandboxConfig,
  parseSandboxConfig,
  sandboxRequest,
  ConfigError as SandboxConfigError,
  type SandboxConfigInput,
  type SandboxRequest,
} from './sandbox/config.js';
export { resolveRequest, mergeRequests, SpecLoadError, type ResolvedRequest } from './sandbox/request.js';
