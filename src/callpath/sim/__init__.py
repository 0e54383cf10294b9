"""Traffic traces: the format (docs/benchmark.md), a generator of realistic traffic, and a replay
of a trace through the real allocation and matching code, scored against the truth."""
