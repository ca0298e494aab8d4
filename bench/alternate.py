"""Runs commands in alternating rounds and prints medians and ratios.

Each argument is NAME=COMMAND. Every round runs each command once, in
rotating order, timing it from spawn to exit with posix_spawn and waitpid
(the same small overhead for every command). The first round is a warm-up.

With `--before COMMAND` first, that command runs untimed before each timed
one (to empty a target directory, say).
"""
import os
import shlex
import statistics
import sys
import time


def run_once(argv):
    start = time.perf_counter_ns()
    # The commands' own output would only slow the terminal: drop it.
    pid = os.posix_spawnp(argv[0], argv, os.environ,
                          file_actions=[(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0)])
    _, status = os.waitpid(pid, 0)
    elapsed = (time.perf_counter_ns() - start) / 1e6
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {' '.join(argv)} exited with {os.waitstatus_to_exitcode(status)}")
    return elapsed


def main():
    args = sys.argv[1:]
    before = None
    if args[0] == "--before":
        before = shlex.split(args[1])
        args = args[2:]
    rounds = int(args[0])
    commands = []
    for spec in args[1:]:
        name, command = spec.split("=", 1)
        commands.append((name, shlex.split(command)))
    times = {name: [] for name, _ in commands}
    for round_number in range(rounds + 1):
        shift = round_number % len(commands)
        for name, argv in commands[shift:] + commands[:shift]:
            if before:
                run_once(before)
            elapsed = run_once(argv)
            if round_number > 0:
                times[name].append(elapsed)
    print(f"{rounds} alternating rounds; milliseconds from spawn to exit")
    print(f"{'':10} {'median':>8} {'p10':>8} {'p90':>8} {'mean':>8}")
    medians = {}
    for name, values in times.items():
        values.sort()
        medians[name] = statistics.median(values)
        p10 = values[len(values) // 10]
        p90 = values[len(values) * 9 // 10]
        print(f"{name:10} {medians[name]:8.2f} {p10:8.2f} {p90:8.2f} {statistics.fmean(values):8.2f}")
    if "skiff" in medians:
        print()
        for name, median in medians.items():
            if name != "skiff":
                print(f"skiff / {name:8} {medians['skiff'] / median:5.2f}x")


if __name__ == "__main__":
    main()
