import CShim
import Glibc
import SkiffCommon

/// `skiff-spawn standby [--warm PROCS]`: started by the engine before it
/// knows what to run, so that this process's start-up overlaps the engine's
/// own work (parsing, image lookup, state). Fd 3 is the status pipe, fd 4 a
/// socket on which the engine sends the real command line (NUL-separated)
/// and then shuts its end. Nothing received means the run was abandoned.
/// Returns the command line to go on with, as if it had been our argv.
func standBy(_ argv: [String]) -> [String] {
    if argv.count > 3 && argv[2] == "--warm" { warmUpCgroupAttach(argv[3]) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 8192)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(4, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        bytes += buffer[0..<n]
    }
    close(4)
    Trace.mark("command received")
    if bytes.isEmpty { exit(0) }
    let received = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    return [argv[0]] + (received.last == "" ? received.dropLast() : received[...])
}

/// Moving a process between cgroups takes the kernel's cgroup_threadgroup_rwsem
/// for writing, and the first writer after a quiet spell waits for an RCU
/// grace period (5 to 20 ms measured on these machines' cgroup v1); writers
/// within about one grace period after it do not wait. A short-lived
/// grandchild moves itself into the cgroup it is already in, so that wait
/// is paid while the engine is still preparing the container, and is over
/// by the time we move the container's init. Double fork: nobody waits for
/// it, and it holds none of our descriptors (under load the write can take
/// seconds, and a caller reading our output or status pipe would wait too).
func warmUpCgroupAttach(_ procs: String) {
    let child = fork()
    if child == 0 {
        if fork() == 0 {
            skiff_close_from(3)
            let null = open("/dev/null", O_RDWR)
            if null >= 0 { dup2(null, 0); dup2(null, 1); dup2(null, 2); if null > 2 { close(null) } }
            let fd = open(procs, O_WRONLY | O_CLOEXEC)
            if fd >= 0 { _ = write(fd, "0", 1) }
            _exit(0)
        }
        _exit(0)
    }
    if child > 0 {
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
    }
}
