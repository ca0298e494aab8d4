import CShim
import Glibc
import SkiffCommon
import SkiffKernel

/// `skiff-spawn standby [--warm]`: started by the engine before it knows
/// what to run, so that this process's start-up overlaps the engine's own
/// work (parsing, image lookup, state). Fd 3 is the status pipe, fd 4 a
/// socket on which the engine sends the real command line: its length in 8
/// hex digits, then the arguments, NUL-separated. Nothing received means the
/// run was abandoned. Fd 5 is a socket on which the engine sends the early
/// init the same arguments (without the length: it closes it after). With
/// --await-cgroups in them, fd 4 stays open for the engine's word that the
/// cgroups exist (`awaitCgroups`); else we close it.
/// Returns the command line to go on with, as if it had been our argv.
/// An early init (EarlyInit.swift) is cloned while we wait, as root.
func standBy(_ argv: [String]) -> (arguments: [String], early: EarlyInit?) {
    // Only stdio, the status pipe and the two sockets are ours to keep;
    // the early init's pipes come after this.
    skiff_close_from(6)
    if argv.count > 2 && argv[2] == "--warm" { warmUpCgroupAttach() }
    let early = rootless ? nil : EarlyInit.clone(go: earlyInitChannel)
    if rootless { close(earlyInitChannel) }
    let header = readExactly(standbyChannel, 8)
    guard header.count == 8, let length = Int(String(decoding: header, as: UTF8.self), radix: 16) else {
        early?.discard()
        exit(0)
    }
    let bytes = readExactly(standbyChannel, length)
    Trace.mark("command received")
    if bytes.count != length {
        early?.discard()
        exit(0)
    }
    let received = decodeArguments(bytes)
    if !received.contains("--await-cgroups") { close(standbyChannel) }
    return ([argv[0]] + received, early)
}

/// The standby's socket to the engine.
let standbyChannel: Int32 = 4
/// The engine's socket to the early init (the standby's fd 5).
let earlyInitChannel: Int32 = 5

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

/// The early no-op cgroup move (SkiffKernel's CgroupWarmUp), for an engine
/// that did not make it itself.
func warmUpCgroupAttach() {
    // The cgroup we are in, in the first hierarchy the engine will use.
    // Not on v1, where the init joins through `tasks`, which does not wait.
    guard let driver = try? Cgroups.detect(), driver.selfJoinFiles(for: "skiff/x") == nil,
          let procs = CgroupWarmUp.ownProcsFile(driver) else { return }
    CgroupWarmUp.start(procs: procs)
}
