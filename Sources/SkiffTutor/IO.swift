import Foundation
import Glibc

/// Copies what a command writes to standard output (or `fd`) to the screen
/// and keeps a copy, so a check can look at "the output of your last command".
final class OutputTee: @unchecked Sendable {
    private let fd: Int32
    private let saved: Int32
    private let readEnd: Int32
    private let lock = NSLock()
    private var buffer: [UInt8] = []
    private var finished = false
    private let limit = 1 << 20

    init(fd: Int32 = 1) {
        self.fd = fd
        fflush(nil)
        var fds: [Int32] = [-1, -1]
        saved = fcntl(fd, F_DUPFD_CLOEXEC, 3)
        guard saved >= 0, pipe(&fds) == 0 else {
            readEnd = -1
            return
        }
        readEnd = fds[0]
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        dup2(fds[1], fd)
        close(fds[1])
        let thread = Thread { [self] in self.pump() }
        thread.start()
    }

    private func pump() {
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            var offset = 0
            while offset < n {
                let w = chunk.withUnsafeBytes { write(saved, $0.baseAddress! + offset, n - offset) }
                if w < 0 { if errno == EINTR { continue } else { break } }
                offset += w
            }
            lock.lock()
            if buffer.count < limit { buffer.append(contentsOf: chunk[0..<n]) }
            lock.unlock()
        }
        lock.lock()
        finished = true
        lock.unlock()
    }

    /// Puts the descriptor back and returns what was written.
    func finish() -> String {
        guard readEnd >= 0 else { return "" }
        fflush(nil)
        // Restoring the descriptor drops our last copy of the pipe's write end: the
        // copier then drains what is left and sees EOF. `saved` stays open
        // until it is done, since the copier writes to it.
        dup2(saved, fd)
        var done = false
        for _ in 0..<2500 {
            lock.lock()
            done = finished
            lock.unlock()
            if done { break }
            usleep(2_000)
        }
        if done {
            close(readEnd)
            close(saved)
        }
        // Else a process kept a copy of the pipe (none should): leave the
        // copier its descriptors rather than hang the prompt.
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: buffer, as: UTF8.self)
    }
}

/// The autopilot's `input`: standard input becomes a pipe holding the text.
final class StdinReplacement {
    private let saved: Int32

    init(_ text: String) {
        saved = fcntl(0, F_DUPFD_CLOEXEC, 3)
        var template = Array("/tmp/skiff-input-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { return }
        unlink(String(cString: template))
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        lseek(fd, 0, SEEK_SET)
        dup2(fd, 0)
        close(fd)
    }

    func restore() {
        guard saved >= 0 else { return }
        dup2(saved, 0)
        close(saved)
    }
}
