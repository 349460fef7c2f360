/**
 * Stage 1, network, for the rootless path (rootless.ts): the holder makes the user + network
 * namespace and loads the policy; then pasta connects it to the user's network and, with allowed
 * names, the resolver starts beside pasta — side by side; vpn-only, the tunnel comes up inside
 * the holder once pasta is there to carry it. Every process is recorded in the teardown
 * state as soon as its PID is known.
 */
import { spawn } from 'node:child_process';
import { procStart, readText } from '../host.js';
import { firstError, run } from '../../system/exec.js';
import { hasDefaultRoute, HOLDER_NS, nsenterArgv, pastaFailure, usernsFailure } from '../rootless.js';
import { sandboxNames } from '../../model/names.js';
import { writeTeardownState } from '../teardown.js';
import { SandboxError, type Step } from '../types.js';
import { awaitHandshake, resolverConfig, startTunnel, stopIfAborted, tunnelPlace, type StageContext } from './network.js';
import type { ResolverConfig } from '../resolver-main.js';

/** Stage 1, rootless: namespaces, policy, pasta and the resolver, ready before the command starts. */
export async function rootlessNetworkStage(ctx: StageContext): Promise<void> {
  const { plan, opts } = ctx;
  stopIfAborted(ctx.signal);
  const holder = plan.steps.find((s): s is Extract<Step, { kind: 'holder' }> => s.kind === 'holder');
  const pasta = plan.steps.find((s): s is Extract<Step, { kind: 'pasta' }> => s.kind === 'pasta');
  if (holder === undefined || pasta === undefined) throw new SandboxError('rootless plan without holder or pasta');
  const pid = await startHolder(holder.argv, ctx);
  const inside = nsenterArgv(pid);
  const resolver = plan.steps.find((s): s is Extract<Step, { kind: 'resolver' }> => s.kind === 'resolver');
  // The resolver runs in cordon's own process, which is in the user's own namespace (it reaches
  // the upstream; the command reaches it only through pasta's forward of its 127.0.0.1:53): no
  // second Node to start, and it ends with cordon. It adds answers to the sandbox's sets through nsenter.
  await Promise.all([
    startPasta([...pasta.argv, String(pid)], pid, sandboxNames(plan.id).vethSandbox, ctx),
    resolver === undefined
      ? undefined
      : startResolverHere(ctx, resolverConfig(resolver.listen, opts, ctx.tmp!, { nft: [...inside, 'nft'], upstream: resolver.upstream, port: resolver.port })),
  ]);
  stopIfAborted(ctx.signal);
  const wg = plan.steps.find((s): s is Extract<Step, { kind: 'wireguard' }> => s.kind === 'wireguard');
  if (wg !== undefined) await tunnelInHolder(ctx, wg, pid);
}

/** Starts the resolver inside cordon (loaded only when names are allowed); stopped before teardown. */
async function startResolverHere(ctx: StageContext, cfg: ResolverConfig): Promise<void> {
  const { startResolver } = await import('../resolver-main.js');
  try {
    ctx.stops.push(await startResolver(cfg));
  } catch (e) {
    throw new SandboxError(`the resolver cannot listen on ${cfg.listen}:${cfg.port}: ${(e as Error).message}`);
  }
}

/**
 * vpn-only: the tunnel inside the holder (after pasta, whose default route carries its transport):
 * wireguard-go and `wg setconf` as on the root path, then the planned addresses, routes and the
 * policy rule in one `ip -batch`, then the wait for the first handshake.
 */
async function tunnelInHolder(ctx: StageContext, wg: Extract<Step, { kind: 'wireguard' }>, pid: number): Promise<void> {
  const place = tunnelPlace(wg.ifname, { holderPid: pid });
  await startTunnel(place, wg.ifname, wg.client, ctx.td);
  stopIfAborted(ctx.signal);
  const cmds = ctx.plan.steps.flatMap((s) => (s.kind === 'ip' && s.ns === HOLDER_NS ? [s.cmd] : []));
  const r = await run([...nsenterArgv(pid), 'ip', '-batch', '-'], { input: `${cmds.join('\n')}\n` });
  if (r.code !== 0) {
    const m = /Command failed -:(\d+)/.exec(r.stderr);
    throw new SandboxError(`ip${m ? ` ${cmds[Number(m[1]) - 1] ?? ''}` : ''} (the tunnel, inside the sandbox): ${firstError(r)}`);
  }
  await awaitHandshake(ctx, wg, place);
}

/** A sysctl's value (`kernel/unprivileged_userns_clone`), undefined when the kernel has no such setting. */
function sysctl(key: string): string | undefined {
  return readText(`/proc/sys/${key}`).trim() || undefined;
}

/**
 * Isolated mode's namespaces are made by the command line itself (`unshare --user … sh -c …`):
 * when that unshare fails, its message went to the command's stderr and the run ends like a
 * command that exited 1. Called only then (no counters, no setup error): tries once more to say
 * which setting is in the way; undefined when a user namespace can be made after all.
 */
export async function usernsDiagnosis(): Promise<string | undefined> {
  const r = await run(['unshare', '--user', '--map-root-user', '--net', 'true']);
  return r.code === 0 ? undefined : usernsFailure(r.stderr, sysctl);
}

/** Starts the holder and waits for its `ready` (namespaces made, policy loaded); its PID. */
async function startHolder(argv: readonly string[], ctx: StageContext): Promise<number> {
  const { td } = ctx;
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new SandboxError(`cannot start ${argv[0]}`);
  td.holderPid = child.pid;
  td.holderStart = procStart(child.pid);
  writeTeardownState(td);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((res, rej) => {
    const onAbort = (): void => rej(new SandboxError('interrupted'));
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const check = (): void => {
      if (!out.includes('ready')) return;
      ctx.signal.removeEventListener('abort', onAbort);
      res();
    };
    child.stdout.on('data', check);
    child.on('exit', (code) => {
      ctx.signal.removeEventListener('abort', onAbort);
      if (out.includes('ready')) return;
      if (/^unshare:/m.test(err)) rej(new SandboxError(usernsFailure(err, sysctl)));
      else rej(new SandboxError(`setting up the sandbox's network (exit ${code ?? '?'}): ${err.trim().split('\n').slice(0, 6).join('\n') || 'no message'}`));
    });
  });
  // The holder lives until teardown kills it (or its stdin closes with cordon): not a reason to keep cordon alive.
  child.stdout.removeAllListeners('data');
  child.stderr.resume();
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr] as (NodeJS.EventEmitter & { unref?: () => void })[]) s.unref?.();
  return child.pid;
}

/**
 * pasta runs in the foreground as cordon's child (it dies with cordon); it is done once the
 * holder's namespace has its default route on pasta's interface, read from /proc/PID/net/route
 * (no process started to look).
 */
async function startPasta(argv: readonly string[], holderPid: number, ifname: string, ctx: StageContext): Promise<void> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  let spawnError: Error | undefined;
  child.on('error', (e) => (spawnError = e));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  if (child.pid !== undefined) {
    ctx.td.pastaPid = child.pid;
    writeTeardownState(ctx.td);
  }
  const until = performance.now() + 10_000;
  for (;;) {
    if (hasDefaultRoute(readText(`/proc/${holderPid}/net/route`), ifname)) break;
    if (spawnError !== undefined) throw new SandboxError(`cannot start pasta: ${spawnError.message} (passt; make setup installs it)`);
    if (child.exitCode !== null || child.signalCode !== null) throw new SandboxError(pastaFailure(err));
    stopIfAborted(ctx.signal);
    if (performance.now() > until) throw new SandboxError(`pasta did not configure the sandbox's network within 10 s${err.trim() ? `: ${err.trim()}` : ''}`);
    await new Promise((res) => setTimeout(res, 5));
  }
  child.stderr.resume();
  child.unref();
  (child.stderr as NodeJS.ReadableStream & { unref?: () => void }).unref?.();
}
