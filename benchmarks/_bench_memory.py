"""Peak memory of one call: CUDA's allocator statistics, or the CPU allocations seen by torch.profiler.

On the CPU ``tracemalloc`` does not see torch's allocator, and the process RSS
high-water mark hides transients under earlier peaks, so we replay the
profiler's memory events (every allocation and free made by torch during the
call, in time order) and report the highest running total: the peak of memory
allocated *during* the call on top of what was already live (inputs, weights).
"""

from __future__ import annotations

import torch
from torch.profiler import ProfilerActivity, profile


def peak_bytes(fn, device: str) -> int:
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return int(torch.cuda.max_memory_allocated() - base)
    # The first profiled call of a function sometimes counts an extra output-sized block (seen with
    # torch.nn.Conv2d's training step): profile twice and keep the smaller peak.
    return min(_cpu_peak(fn), _cpu_peak(fn))


def _cpu_peak(fn) -> int:
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    # raw allocator events (the aggregated FunctionEvents attribute memory to ops, not in time order)
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    events.sort(key=lambda e: e.start_ns())
    total = peak = 0
    for e in events:
        total += e.nbytes()
        peak = max(peak, total)
    return int(peak)
