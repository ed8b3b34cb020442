#!/usr/bin/env python3
"""Prints where a Chrome trace (bench/kernel_profile.h, torch.profiler) spends GPU time: kernels grouped by name,
their count and total time, the GPU's busy time against the wall span (busy << span means the host is the limit).
  python3 bench/summarize_trace.py TRACE.json [--top 25]
"""
import argparse, collections, json

ap = argparse.ArgumentParser()
ap.add_argument("trace")
ap.add_argument("--top", type=int, default=25)
args = ap.parse_args()
events = json.load(open(args.trace))["traceEvents"]
kernels = [e for e in events if e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset") and "dur" in e]
ops = [e for e in events if e.get("cat") == "cpu_op" and "dur" in e]
if not kernels:
    raise SystemExit(f"{args.trace}: no GPU kernels in the trace")
by_name = collections.defaultdict(lambda: [0, 0.0])
for k in kernels:
    by_name[k["name"]][0] += 1
    by_name[k["name"]][1] += k["dur"]
busy = sum(k["dur"] for k in kernels)
span = max(k["ts"] + k["dur"] for k in kernels) - min(k["ts"] for k in kernels)
print(f"{len(kernels)} GPU kernels/copies, busy {busy / 1000:.2f} ms of a {span / 1000:.2f} ms span "
      f"({100 * busy / span:.0f}% busy); {len(ops)} CPU operator calls")
print(f"{'ms':>9} {'%':>5} {'count':>6}  kernel")
for name, (count, dur) in sorted(by_name.items(), key=lambda kv: -kv[1][1])[: args.top]:
    print(f"{dur / 1000:9.3f} {100 * dur / busy:5.1f} {count:6d}  {name[:150]}")
top_ops = collections.defaultdict(lambda: [0, 0.0])
for o in ops:
    top_ops[o["name"]][0] += 1
    top_ops[o["name"]][1] += o["dur"]
print(f"\nCPU operators by call count (top {args.top // 2}):")
for name, (count, dur) in sorted(top_ops.items(), key=lambda kv: -kv[1][0])[: args.top // 2]:
    print(f"{count:6d} {dur / 1000:9.3f} ms  {name}")
