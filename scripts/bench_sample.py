#!/usr/bin/env python3
"""Samples CPU and memory of hls-swarm and its child processes (FFmpeg), and summarises a run.

  bench_sample.py PID                      one JSON line every 2 s until PID exits
  bench_sample.py --summary SAMPLES REPORT VIEWERS STEADY_FROM STEADY_TO ORIGIN_BYTES
"""
import json
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def stat(pid):
    """(ppid, cpu seconds) of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(") ", 1)[1].split()
    return int(rest[1]), (int(rest[11]) + int(rest[12])) / TICK


def memory(pid):
    """(RSS, PSS) in KiB, from /proc/PID/smaps_rollup."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Rss", "Pss"):
                out[key] = int(value.split()[0])
    return out.get("Rss", 0), out.get("Pss", 0)


def sample(root, t0):
    _, own_cpu = stat(root)
    own_rss, own_pss = memory(root)
    kids = {"n": 0, "cpu": 0.0, "rss": 0, "pss": 0}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            ppid, cpu = stat(name)
            if ppid != root:
                continue
            rss, pss = memory(name)
        except (OSError, IndexError, ValueError):
            continue
        kids["n"] += 1
        kids["cpu"] += cpu
        kids["rss"] += rss
        kids["pss"] += pss
    return {"t": time.monotonic() - t0, "cpu": own_cpu, "rss": own_rss, "pss": own_pss, "kids": kids}


def run(root):
    t0 = time.monotonic()
    while os.path.exists(f"/proc/{root}"):
        try:
            print(json.dumps(sample(root, t0)), flush=True)
        except (OSError, IndexError, ValueError):
            break
        time.sleep(2)


def summary(samples_path, report_path, viewers, steady_from, steady_to, origin_bytes):
    samples = [json.loads(l) for l in open(samples_path) if l.strip()]
    report = json.load(open(report_path))
    steady = [s for s in samples if steady_from <= s["t"] <= steady_to]
    a, b = steady[0], steady[-1]
    span = b["t"] - a["t"]
    own = (b["cpu"] - a["cpu"]) / span
    # The children's CPU: only processes alive in both samples count (restarts would reset theirs).
    kids = (b["kids"]["cpu"] - a["kids"]["cpu"]) / span
    mem = max(steady, key=lambda s: s["rss"] + s["kids"]["rss"])
    print(f"steady state {a['t']:.0f}-{b['t']:.0f} s, {b['kids']['n']} child processes")
    print(f"  CPU   hls-swarm {own * 100:.1f}% of a core ({own * 100 / viewers:.3f}% per viewer)"
          f"   children {kids * 100:.1f}% ({kids * 100 / viewers:.3f}% per viewer)"
          f"   total {(own + kids) * 100 / viewers:.3f}% of a core per viewer")
    print(f"  RSS   hls-swarm {mem['rss'] / 1024:.0f} MiB ({mem['rss'] / viewers:.0f} KiB per viewer)"
          f"   children RSS {mem['kids']['rss'] / 1024:.0f} MiB ({mem['kids']['rss'] / max(viewers, 1):.0f} KiB per viewer),"
          f" PSS {mem['kids']['pss'] / 1024:.0f} MiB ({mem['kids']['pss'] / max(viewers, 1):.0f} KiB per viewer)")
    per_minute = {}
    for p in report["timeline"]:
        m = per_minute.setdefault((p["t"] - 1) // 60, [0, 0, 0])
        m[0] += p["segments"]
        m[1] += p["bytes"]
        m[2] += 1
    total = 0
    for minute, (segs, byts, n) in sorted(per_minute.items()):
        total += segs
        if n < 10:
            continue
        print(f"  minute {minute + 1}: {segs} segments (total {total}), {byts / n / 1e6:.2f} MB/s")
    swarm_bytes = sum(report["requests"][k]["bytes"] for k in ("multivariant", "media_playlist", "segment"))
    errors = sum(report["errors"].values()) if isinstance(report["errors"], dict) else report["errors"]
    print(f"  bytes: report {swarm_bytes}, origin {origin_bytes} -> {'EQUAL' if swarm_bytes == origin_bytes else 'DIFFERENT'};"
          f" errors {errors}, stalls {report['playback']['stall_count']}, segments {report['segments']['downloaded']}")


if __name__ == "__main__":
    if sys.argv[1] == "--summary":
        summary(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7]))
    else:
        run(int(sys.argv[1]))
