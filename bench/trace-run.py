#!/usr/bin/env python3
"""Where the time of one `skiff run --rm busybox true` goes.

Runs the command N times with SKIFF_TRACE=1 and prints, per phase mark, the
median wall time since posix_spawn (CLOCK_MONOTONIC), the median step from
the previous mark, and the median CPU time the marking process had used by
then (CPU time hardly grows when other work crowds the cores; wall time does).

    sudo bench/trace-run.py [N] -- skiff run --rm busybox true
"""
import os, sys, time, statistics, subprocess

def main():
    args = sys.argv[1:]
    n = 30
    if args and args[0] != "--":
        n = int(args[0]); args = args[1:]
    if args and args[0] == "--":
        args = args[1:]
    wall, cpu, who = {}, {}, {}
    totals = []
    for _ in range(n):
        t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        p = subprocess.Popen(args, env=dict(os.environ, SKIFF_TRACE="1"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, err = p.communicate()
        totals.append((time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000 - t0) / 1000)
        pids = []
        for line in err.decode().splitlines():
            if not line.startswith("skiff-trace "):
                continue
            _, pid, us, cpu_us, label = line.split(" ", 4)
            if pid not in pids:
                pids.append(pid)
            wall.setdefault(label, []).append((int(us) - t0) / 1000)
            cpu.setdefault(label, []).append(int(cpu_us) / 1000)
            who[label] = "cli" if pids.index(pid) == 0 else "helper" if pids.index(pid) == 1 else "init"
    order = sorted(wall, key=lambda l: statistics.median(wall[l]))
    prev = 0.0
    print(f"{'mark':18s} {'process':8s} {'at ms':>7s} {'step':>6s} {'cpu ms':>7s}")
    for label in order:
        m = statistics.median(wall[label])
        print(f"{label:18s} {who[label]:8s} {m:7.2f} {m - prev:6.2f} {statistics.median(cpu[label]):7.2f}")
        prev = m
    total = statistics.median(totals)
    print(f"{'process exit':18s} {'':8s} {total:7.2f} {total - prev:6.2f}")

main()
