/**
 * The all-pairs matrix as a heatmap: one cell per (from, to), coloured by how much is allowed
 * (everything / some flows / nothing), as configured or with the guests compromised. Clicking a
 * cell (or Enter on it) explains one flow of that pair hop by hop.
 *
 * Virtualised: only the cells in view are in the DOM (a 1,000-host spec has a million cells), and
 * the headers scroll with the grid. Keyboard: the grid is one tab stop; arrows, Home/End and
 * PageUp/PageDown move the active cell, which is scrolled into view.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { call, versionPath, type Assume, type JobProgress, type FlowSetJson, type MatrixView as MatrixJson, type Topology } from '../api';
import type { SpecRef } from '../main';
import { ErrorBox, Loading } from '../ui';
import { ExplainPanel, type FlowAsk } from './explain';

interface Cell {
  readonly text: string;
  readonly flows: FlowSetJson;
}

interface Grid {
  readonly names: readonly string[];
  /** Allowed cells by `from * n + to`; absent = denied. */
  readonly cells: ReadonlyMap<number, Cell>;
}

function indexGrid(m: MatrixJson): Grid {
  const idx = new Map(m.endpoints.map((n, i) => [n, i]));
  const n = m.endpoints.length;
  const cells = new Map<number, Cell>();
  for (const a of m.allowed) cells.set(idx.get(a.from)! * n + idx.get(a.to)!, { text: a.text, flows: a.flows });
  return { names: m.endpoints, cells };
}

/** A flow inside an allowed cell to explain first: a familiar port if the set has one. */
function sampleOf(f: FlowSetJson): Pick<FlowAsk, 'proto' | 'port'> {
  const pick = (rs: [number, number][]) => {
    for (const p of [443, 22, 80, 53]) if (rs.some(([lo, hi]) => lo <= p && p <= hi)) return p;
    const [lo, hi] = rs[0]!;
    return lo === 0 ? Math.min(1, hi) : lo;
  };
  if (f.tcp.length) return { proto: 'tcp', port: pick(f.tcp) };
  if (f.udp.length) return { proto: 'udp', port: pick(f.udp) };
  return { proto: f.icmp ? 'icmp' : 'other' };
}

const ZONES = new Set(['internet', 'lan']);

/** What to explain for a denied pair: the destination's first service, else https to a zone, else ssh. */
function askFor(from: string, to: string, cell: Cell | undefined, topo: Topology | undefined): FlowAsk {
  if (cell) return { from, to, ...sampleOf(cell.flows) };
  const svc = topo?.hosts.find((h) => h.name === to)?.services[0];
  if (svc) return { from, to: `${to}.${svc.name}` };
  return { from, to, proto: 'tcp', port: ZONES.has(to) ? 443 : 22 };
}

const ANY = 'any';

function cellClass(c: Cell | undefined, self: boolean): string {
  if (self) return 'cell self';
  if (!c) return 'cell deny';
  return c.text === ANY ? 'cell all' : 'cell some';
}

export function MatrixView({ spec }: { spec: SpecRef }) {
  const [assume, setAssume] = useState<Assume>('configured');
  const [grid, setGrid] = useState<Grid | undefined>();
  const [error, setError] = useState<unknown>();
  const [active, setActive] = useState<[number, number]>([0, 0]);
  const [open, setOpen] = useState<FlowAsk | undefined>();
  const [progress, setProgress] = useState<JobProgress | undefined>();
  const topo = useRef<Topology | undefined>(undefined);
  const started = useRef(0);
  const received = useRef(0);

  useEffect(() => {
    let live = true;
    setGrid(undefined);
    setError(undefined);
    setProgress(undefined);
    started.current = performance.now();
    call<{ views: MatrixJson[] }>('GET', `${versionPath(spec.id, spec.version)}/matrix?assume=${assume}`, undefined, {
      onProgress: (p) => live && setProgress(p),
    }).then(
      (r) => {
        if (!live) return;
        received.current = performance.now();
        setGrid(indexGrid(r.views[0]!));
      },
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [spec.id, spec.version, assume]);

  useEffect(() => {
    topo.current = undefined;
  }, [spec.id, spec.version]);

  const openCell = async (i: number, j: number) => {
    if (!grid || i === j) return;
    if (!grid.cells.has(i * grid.names.length + j) && !topo.current) {
      try {
        topo.current = await call<Topology>('GET', `${versionPath(spec.id, spec.version)}/topology`);
      } catch {
        // Without the topology the ask falls back to a port; the explanation still comes.
      }
    }
    setActive([i, j]);
    setOpen(askFor(grid.names[i]!, grid.names[j]!, grid.cells.get(i * grid.names.length + j), topo.current));
  };

  return (
    <div class="matrix-view">
      <div class="toolbar">
        <fieldset class="seg">
          <legend>Guests</legend>
          {(['configured', 'compromised'] as const).map((a) => (
            <label key={a}>
              <input type="radio" name="assume" value={a} checked={assume === a} onChange={() => setAssume(a)} />
              {a === 'configured' ? 'as configured' : 'compromised'}
            </label>
          ))}
        </fieldset>
        <ul class="legend" aria-label="Legend">
          <li>
            <span class="swatch all" aria-hidden="true" /> everything allowed
          </li>
          <li>
            <span class="swatch some" aria-hidden="true" /> some flows allowed
          </li>
          <li>
            <span class="swatch deny" aria-hidden="true" /> denied
          </li>
        </ul>
        {grid && (
          <p class="muted count">
            {grid.names.length} endpoints · {grid.cells.size} allowed pairs
          </p>
        )}
      </div>
      <ErrorBox error={error} />
      {!grid && !error && (
        <Loading>
          {progress
            ? `Computing the matrix on the server (a big spec runs as a job): ${progress.stage}, step ${progress.step} of ${progress.steps}${progress.queuePosition ? `, ${progress.queuePosition} jobs ahead` : ''}…`
            : 'Loading…'}
        </Loading>
      )}
      {grid && (
        <div class="matrix-and-explain">
          <HeatGrid
            grid={grid}
            active={active}
            setActive={setActive}
            onOpen={(i, j) => void openCell(i, j)}
            started={started.current}
            received={received.current}
            assume={assume}
          />
          {open && <ExplainPanel specId={spec.id} version={spec.version} assume={assume} ask={open} onClose={() => setOpen(undefined)} />}
        </div>
      )}
    </div>
  );
}

interface GridProps {
  grid: Grid;
  active: [number, number];
  setActive: (a: [number, number]) => void;
  onOpen: (i: number, j: number) => void;
  /** performance.now() when the fetch began and when its answer arrived: the first paint records both spans (the benchmark reads them). */
  started: number;
  received: number;
  assume: Assume;
}

function HeatGrid({ grid, active, setActive, onOpen, started, received, assume }: GridProps) {
  const n = grid.names.length;
  const small = n <= 14;
  const cw = small ? 104 : 22;
  const ch = small ? 34 : 22;
  const headW = Math.min(180, 16 + 8 * Math.max(4, ...grid.names.slice(0, 2000).map((s) => s.length)));
  const headH = small ? 34 : headW;
  const scroller = useRef<HTMLDivElement>(null);
  const gridEl = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, left: 0, width: 800, height: 500 });
  const focusWanted = useRef(false);
  // The active cell as of the last key press: keys can arrive faster than Preact re-renders, and each must move from where the previous one left.
  const current = useRef<[number, number]>(active);
  current.current = focusWanted.current ? current.current : active;

  useLayoutEffect(() => {
    const el = scroller.current!;
    const measure = () => setView({ top: el.scrollTop, left: el.scrollLeft, width: el.clientWidth, height: el.clientHeight });
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // The first paint with data: data-render-ms from the answer's arrival (indexing, drawing, painting),
  // data-total-ms from asking the server (its computation and the transfer too). The benchmark reads them.
  useEffect(() => {
    requestAnimationFrame(() =>
      requestAnimationFrame(() => {
        const now = performance.now();
        gridEl.current?.setAttribute('data-total-ms', String(Math.round(now - started)));
        gridEl.current?.setAttribute('data-render-ms', String(Math.round(now - received)));
      }),
    );
  }, [grid, started, received]);

  const onScroll = () => {
    const el = scroller.current!;
    setView((v) => (v.top === el.scrollTop && v.left === el.scrollLeft ? v : { ...v, top: el.scrollTop, left: el.scrollLeft }));
  };

  const r0 = Math.max(0, Math.floor(view.top / ch) - 2);
  const r1 = Math.min(n, Math.ceil((view.top + view.height) / ch) + 2);
  const c0 = Math.max(0, Math.floor(view.left / cw) - 2);
  const c1 = Math.min(n, Math.ceil((view.left + view.width) / cw) + 2);

  const move = (i: number, j: number) => {
    const ni = Math.max(0, Math.min(n - 1, i));
    const nj = Math.max(0, Math.min(n - 1, j));
    const el = scroller.current!;
    if (ni * ch < el.scrollTop) el.scrollTop = ni * ch;
    else if ((ni + 1) * ch > el.scrollTop + el.clientHeight) el.scrollTop = (ni + 1) * ch - el.clientHeight;
    if (nj * cw < el.scrollLeft) el.scrollLeft = nj * cw;
    else if ((nj + 1) * cw > el.scrollLeft + el.clientWidth) el.scrollLeft = (nj + 1) * cw - el.clientWidth;
    focusWanted.current = true;
    current.current = [ni, nj];
    setActive([ni, nj]);
    onScroll();
  };

  // Focus follows the latest key, not this render's `active`: a key pressed between a render and
  // its effect has already moved `current` on (and its own render would find nothing left to do).
  useLayoutEffect(() => {
    if (!focusWanted.current) return;
    const [fi, fj] = current.current;
    // Not drawn yet (just scrolled into view): the next render, after the scroll is measured, focuses it.
    const el = gridEl.current?.querySelector<HTMLElement>(`[data-cell="${fi}:${fj}"]`);
    if (!el) return;
    focusWanted.current = false;
    el.focus();
  });

  const onKey = (e: KeyboardEvent) => {
    const [i, j] = current.current;
    const page = Math.max(1, Math.floor(view.height / ch) - 1);
    const keys: Record<string, () => void> = {
      ArrowUp: () => move(i - 1, j),
      ArrowDown: () => move(i + 1, j),
      ArrowLeft: () => move(i, j - 1),
      ArrowRight: () => move(i, j + 1),
      PageUp: () => move(i - page, j),
      PageDown: () => move(i + page, j),
      Home: () => move(e.ctrlKey ? 0 : i, 0),
      End: () => move(e.ctrlKey ? n - 1 : i, n - 1),
      Enter: () => onOpen(i, j),
      ' ': () => onOpen(i, j),
    };
    const f = keys[e.key];
    if (f) {
      e.preventDefault();
      f();
    }
  };

  const activeShown = active[0] >= r0 && active[0] < r1 && active[1] >= c0 && active[1] < c1;
  const rows = [];
  for (let i = r0; i < r1; i++) {
    const cells = [];
    for (let j = c0; j < c1; j++) {
      const c = grid.cells.get(i * n + j);
      const self = i === j;
      const isActive = i === active[0] && j === active[1];
      const label = `${grid.names[i]} → ${grid.names[j]}: ${self ? 'itself' : c ? c.text : 'denied'}`;
      cells.push(
        <div
          key={j}
          role="gridcell"
          aria-colindex={j + 1}
          aria-label={label}
          aria-selected={isActive}
          title={small ? undefined : label}
          data-cell={`${i}:${j}`}
          data-verdict={self ? 'self' : c ? 'allow' : 'deny'}
          tabIndex={isActive ? 0 : -1}
          class={cellClass(c, self) + (isActive ? ' active' : '')}
          style={{ left: `${j * cw}px`, width: `${cw}px`, height: `${ch}px` }}
          onClick={() => {
            setActive([i, j]);
            onOpen(i, j);
          }}
        >
          {small && !self ? (c ? c.text : '–') : null}
        </div>,
      );
    }
    rows.push(
      <div key={i} role="row" aria-rowindex={i + 1} class="grid-row" style={{ top: `${i * ch}px`, height: `${ch}px` }}>
        {cells}
      </div>,
    );
  }

  const colHeads = [];
  for (let j = c0; j < c1; j++)
    colHeads.push(
      <div key={j} class={small ? 'colhead' : 'colhead vertical'} style={{ left: `${j * cw}px`, width: `${cw}px`, height: `${headH}px` }}>
        <span>{grid.names[j]}</span>
      </div>,
    );
  const rowHeads = [];
  for (let i = r0; i < r1; i++)
    rowHeads.push(
      <div key={i} class="rowhead" style={{ top: `${i * ch}px`, height: `${ch}px`, width: `${headW}px` }}>
        {grid.names[i]}
      </div>,
    );

  return (
    <div
      class="heat"
      // A small matrix takes the room it needs; a large one the screen's height, scrolled.
      style={{ gridTemplateColumns: `${headW}px 1fr`, gridTemplateRows: `${headH}px 1fr`, height: `min(calc(100vh - 170px), ${headH + n * ch + 24}px)` }}
    >
      <div class="corner muted" aria-hidden="true">
        from \ to
      </div>
      <div class="colheads" aria-hidden="true">
        <div class="strip" style={{ transform: `translateX(${-view.left}px)`, width: `${n * cw}px`, height: `${headH}px` }}>
          {colHeads}
        </div>
      </div>
      <div class="rowheads" aria-hidden="true">
        <div class="strip" style={{ transform: `translateY(${-view.top}px)`, height: `${n * ch}px`, width: `${headW}px` }}>
          {rowHeads}
        </div>
      </div>
      <div class="cells" ref={scroller} onScroll={onScroll}>
        <div
          ref={gridEl}
          role="grid"
          aria-label={`Reachability, ${assume}: rows are sources, columns destinations. Arrows move, Enter explains.`}
          aria-rowcount={n}
          aria-colcount={n}
          class="sizer"
          style={{ width: `${n * cw}px`, height: `${n * ch}px` }}
          // When the active cell is scrolled out (and so not rendered), the grid itself keeps the tab stop.
          tabIndex={activeShown ? -1 : 0}
          onFocus={(e) => {
            if (e.target === e.currentTarget) move(active[0], active[1]);
          }}
          onKeyDown={onKey}
        >
          {rows}
        </div>
      </div>
    </div>
  );
}
