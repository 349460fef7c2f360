/** Sizes at which the dashboard changes how it draws (plain values: tests import them too). */

/** Above this many hosts the Topology graph is aggregated by network (a thousand nodes draw in seconds and read as noise); the matrix stays per host, virtualised. */
export const AGGREGATE_ABOVE = 150;
