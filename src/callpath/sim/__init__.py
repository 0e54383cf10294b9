"""Traffic traces: the format (TRACE.md), a generator of realistic traffic, and a replay
of a trace through the real allocation and matching code, scored against the truth."""
