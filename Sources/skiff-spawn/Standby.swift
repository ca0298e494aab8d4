import CShim
import Glibc
import SkiffCommon
import SkiffKernel

/// `skiff-spawn standby [--warm]`: started by the engine before it knows
/// what to run, so that this process's start-up overlaps the engine's own
/// work (parsing, image lookup, state). Fd 3 is the status pipe, fd 4 a
/// socket on which the engine sends the real command line: its length in 8
/// hex digits, then the arguments, NUL-separated. Nothing received means the
/// run was abandoned. With --await-cgroups in it, the socket stays open for
/// the engine's word that the cgroups exist (`awaitCgroups`); else we close it.
/// Returns the command line to go on with, as if it had been our argv.
func standBy(_ argv: [String]) -> [String] {
    if argv.count > 2 && argv[2] == "--warm" { warmUpCgroupAttach() }
    let header = readExactly(standbyChannel, 8)
    guard header.count == 8, let length = Int(String(decoding: header, as: UTF8.self), radix: 16) else { exit(0) }
    let bytes = readExactly(standbyChannel, length)
    Trace.mark("command received")
    if bytes.count != length { exit(0) }
    var received = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    if received.last == "" { received.removeLast() }
    if !received.contains("--await-cgroups") { close(standbyChannel) }
    return [argv[0]] + received
}

/// The standby's socket to the engine.
let standbyChannel: Int32 = 4

/// Blocks until the engine says the container's cgroups exist ("G" on the
/// standby socket). False when it closed the socket instead: it could not
/// make them, and says why itself.
func awaitCgroups() -> Bool {
    let word = readExactly(standbyChannel, 1)
    close(standbyChannel)
    return word == [UInt8(ascii: "G")]
}

func readExactly(_ fd: Int32, _ count: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    var offset = 0
    while offset < count {
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + offset, count - offset) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        offset += n
    }
    return Array(bytes[0..<offset])
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
func warmUpCgroupAttach() {
    // The cgroup we are in, in the first hierarchy the engine will use.
    guard let driver = try? Cgroups.detect(), let procs = CgroupWarmUp.ownProcsFile(driver) else { return }
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
