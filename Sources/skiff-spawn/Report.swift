import Glibc
import SkiffCommon

// How the helper talks back. With --status-fd 3 (the engine's pipe): "pid
// HOSTPID MONITORPID", then "ok" once the command has been exec'd, or "err
// CODE MESSAGE" (CODE is Docker's exit code: 125, 126 or 127). Without one
// (the CLI handed its process over), errors go to stderr as the CLI's would.

let statusFD: Int32 = 3
nonisolated(unsafe) var statusOpen = false

func report(_ line: String) {
    guard statusOpen else { return }
    writeAll(statusFD, Array((line + "\n").utf8))
}

func closeStatus() {
    if statusOpen { close(statusFD); statusOpen = false }
}

/// Reports a failure and exits with Docker's code for it.
func fail(_ code: Int32, _ message: String) -> Never {
    if statusOpen {
        report("err \(code) \(message)")
    } else {
        writeAll(2, Array(("skiff: " + message + "\n").utf8))
    }
    exit(code)
}

func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 {
            if errno == EINTR { continue }
            return
        }
        offset += n
    }
}

func readAll(_ fd: Int32) -> [UInt8] {
    var result: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        result.append(contentsOf: buffer[0..<n])
    }
    return result
}

func writeFile(_ path: String, _ text: String) -> Bool {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return false }
    writeAll(fd, Array(text.utf8))
    close(fd)
    return true
}

/// Atomic replace: the engine may read the file at any moment.
func writeFileAtomically(_ path: String, _ text: String) {
    let tmp = path + ".tmp.\(getpid())"
    if writeFile(tmp, text) { rename(tmp, path) }
}

/// The same through a spare directory's kept file for `name` (the pid
/// file: SpareDirectories), else as above.
func writeStateFile(_ stateDir: String, _ name: String, _ text: String) {
    if let spare = SpareDirectories.reusedFiles[name],
       SpareDirectories.writeThrough(stateDir + "/" + spare, to: stateDir + "/" + name, Array(text.utf8)) == .written {
        return
    }
    writeFileAtomically(stateDir + "/" + name, text)
}

func readFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    return String(decoding: readAll(fd), as: UTF8.self)
}

/// Unix time in nanoseconds, as written into pid and exit files.
func nowNanos() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// Field 22 of /proc/PID/stat: with the pid it names one process for good,
/// even after the pid number is reused.
func processStartTime(_ pid: Int32) -> String {
    guard let stat = readFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return "0" }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    return fields.count > 19 ? String(fields[19]) : "0"
}
