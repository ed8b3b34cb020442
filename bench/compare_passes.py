#!/usr/bin/env python3
"""Which figures moved between two back-to-back runs of the same benchmarks (bench/run_gpu.sh runs each libmome
benchmark twice): prints a markdown list of every median that differs by more than --threshold (default 10 %),
or says that none did. Lines are matched by their text with the numbers taken out (text output) or by their
non-timing fields (JSON lines); the figure compared is the median ("ms", "ms_per_token", "prefill_ms", or the
first number after a colon).
    python3 bench/compare_passes.py PASS1.txt PASS2.txt [--threshold 0.1]
"""
import argparse
import json
import re

TIMING_KEYS = ("ms", "ms_per_token", "prefill_ms")


def figures(text):
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                row = json.loads(line)
            except ValueError:
                continue
            label = ", ".join(f"{k}={v}" for k, v in sorted(row.items())
                              if not isinstance(v, (float, list)) and k not in TIMING_KEYS)
            for key in TIMING_KEYS:
                if isinstance(row.get(key), (int, float)):
                    out[f"{label}: {key}"] = float(row[key])
        elif ":" in line:
            head, tail = line.split(":", 1)
            number = re.search(r"[-+]?\d+(\.\d+)?", tail)
            if number:
                out[head.strip()] = float(number.group(0))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("first")
    ap.add_argument("second")
    ap.add_argument("--threshold", type=float, default=0.10)
    a = ap.parse_args()
    first, second = figures(open(a.first).read()), figures(open(a.second).read())
    moved = []
    for label in first:
        if label in second and first[label] > 0:
            change = second[label] / first[label] - 1
            if abs(change) > a.threshold:
                moved.append(f"- {label}: {first[label]:.3f} -> {second[label]:.3f} ({change:+.0%})")
    compared = sum(1 for label in first if label in second)
    print(f"{compared} figures compared between two back-to-back passes; "
          f"{len(moved)} moved by more than {a.threshold:.0%}" + (":" if moved else "."))
    print("\n".join(moved))


if __name__ == "__main__":
    main()
