/**
 * The contract every render target fulfils: a pure function from the IR to files.
 * No I/O, no clock, no randomness: the same IR gives the same bytes. What a target cannot
 * express comes back as a diagnostic, never as a silently dropped rule.
 */
import type { Diagnostic } from '../diag/diagnostic.js';
import type { Ir } from '../ir/types.js';
import type { ChunkSink } from './bytes.js';

export interface RenderedFile {
  /** Relative path under the output directory, e.g. `pve/cordon.nft`. */
  readonly path: string;
  readonly content: string;
  /** Secrets (private keys) are written 0600 and never printed. */
  readonly secret: boolean;
  /** Executable scripts (virsh command lists) are written 0755. */
  readonly executable?: boolean;
}

export interface RenderOptions {
  /** Only the files for this host; undefined = every host the target applies to. */
  readonly host: string | undefined;
  /** Target-specific switches, e.g. `proxmox-firewall=nftables`. */
  readonly params: ReadonlyMap<string, string>;
}

export interface RenderResult {
  readonly files: readonly RenderedFile[];
  readonly diagnostics: readonly Diagnostic[];
}

export interface Renderer {
  readonly name: string;
  /** One line for `cordon render --target list`. */
  readonly description: string;
  /** Parameters this target understands, with their meaning and default. */
  readonly params: readonly { readonly name: string; readonly description: string; readonly default: string }[];
  render(ir: Ir, opts: RenderOptions): RenderResult;
}

/** A file of a streaming render, without its content (which went to its sink). */
export interface StreamedFile {
  readonly path: string;
  readonly secret: boolean;
  readonly executable?: boolean;
}

/** Where a streaming render puts one file: its bytes in order through `write`, then `close`. */
export interface FileSink {
  readonly write: ChunkSink;
  close(): void;
}

/**
 * A renderer that can also hand its files over as bytes while it makes them, so a file of
 * hundreds of megabytes is never held (nftables at 10,000 hosts). The bytes are those of
 * `render`'s content in UTF-8. The files are complete, and may be used, only when `renderTo`
 * returns without an error diagnostic: the caller discards them otherwise (write.ts
 * `stageFiles` keeps them as temporary files until `commit`).
 */
export interface StreamingRenderer extends Renderer {
  renderTo(
    ir: Ir,
    opts: RenderOptions,
    open: (file: StreamedFile) => FileSink,
  ): { readonly files: readonly StreamedFile[]; readonly diagnostics: readonly Diagnostic[] };
}

export function isStreamingRenderer(r: Renderer): r is StreamingRenderer {
  return typeof (r as Partial<StreamingRenderer>).renderTo === 'function';
}
