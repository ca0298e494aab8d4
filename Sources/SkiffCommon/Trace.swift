#if canImport(Glibc)
import Glibc
#endif

/// Phase marks for measuring the run path: with SKIFF_TRACE set, each mark
/// writes `skiff-trace PID WALL CPU LABEL` to stderr: microseconds of
/// CLOCK_MONOTONIC (so the CLI's and the helper's marks line up) and of the
/// process's CPU time. bench/trace-run.py reads them.
public enum Trace {
    nonisolated(unsafe) private static var enabled: Bool? = nil

    @inline(__always)
    public static func mark(_ label: StaticString) {
        if enabled == nil { enabled = getenv("SKIFF_TRACE") != nil }
        guard enabled == true else { return }
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let micros = Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
        // CPU time too: under load, waiting for a core inflates wall time.
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        let cpu = Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
        let line = "skiff-trace \(getpid()) \(micros) \(cpu) \(label)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}
