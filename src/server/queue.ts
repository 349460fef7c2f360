/**
 * A bounded queue of slots: at most `concurrency` holders at once, at most `maxWaiting` more
 * waiting in line (first come, first served); past that `enter` refuses at once, so a burst of
 * requests cannot pile up unbounded work or memory.
 */
export class SlotQueue {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
  ) {}

  /** Runs `f` in a slot. `position` is how many were ahead in line when it came (0: started at once); 'full' when the line is full. */
  async run<T>(f: (position: number) => Promise<T>): Promise<T | 'full'> {
    let position = 0;
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxWaiting) return 'full';
      position = this.waiting.length + 1;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    try {
      return await f(position);
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next in line, so `running` never drops below what is in use.
      if (next) next();
      else this.running--;
    }
  }

  get stats(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
