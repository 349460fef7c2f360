/** One line of a benchmark's table: a measurement beside its baseline from the same run. */
export interface Row {
  name: string;
  ms: number;
  baselineMs: number;
  ratio: number;
  notes: string;
  target?: string;
  ok?: boolean;
}
