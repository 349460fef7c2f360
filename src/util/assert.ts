/** Marks a switch as exhaustive: adding a member to a union makes the compiler point here. */
export function assertNever(x: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(x)}`);
}
