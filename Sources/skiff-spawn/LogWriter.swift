import Glibc
import SkiffCommon

/// Docker's json-file format: one JSON object per line of output,
/// {"log":"…\n","stream":"stdout","time":"2026-11-29T14:25:46.123456789Z"}.
struct LogWriter {
    let fd: Int32
    private var pending: [String: [UInt8]] = ["stdout": [], "stderr": []]

    init?(path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { return nil }
        self.fd = fd
    }

    /// Appends output; complete lines are written now, a partial line waits
    /// for its end (or for 16 KiB, or for the stream to close).
    mutating func append(_ bytes: ArraySlice<UInt8>, stream: String) {
        var buffer = pending[stream, default: []]
        buffer.append(contentsOf: bytes)
        var start = 0
        for (i, byte) in buffer.enumerated() where byte == UInt8(ascii: "\n") {
            emit(buffer[start...i], stream: stream)
            start = i + 1
        }
        buffer.removeFirst(start)
        if buffer.count >= 16384 {
            emit(buffer[...], stream: stream)
            buffer.removeAll()
        }
        pending[stream] = buffer
    }

    mutating func flush(_ stream: String) {
        if let rest = pending[stream], !rest.isEmpty { emit(rest[...], stream: stream) }
        pending[stream] = []
    }

    private func emit(_ line: ArraySlice<UInt8>, stream: String) {
        var out = Array("{\"log\":\"".utf8)
        appendJSONEscaped(line, to: &out)
        out += Array("\",\"stream\":\"\(stream)\",\"time\":\"\(Time.rfc3339Nano(nowNanos()))\"}\n".utf8)
        writeAll(fd, out)
    }
}

func appendJSONEscaped(_ bytes: ArraySlice<UInt8>, to out: inout [UInt8]) {
    // Invalid UTF-8 becomes U+FFFD first, so the line is always valid JSON.
    let text = String(decoding: bytes, as: UTF8.self)
    let hex = Array("0123456789abcdef".utf8)
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "\""): out += [92, 34]
        case UInt8(ascii: "\\"): out += [92, 92]
        case 10: out += [92, UInt8(ascii: "n")]
        case 13: out += [92, UInt8(ascii: "r")]
        case 9: out += [92, UInt8(ascii: "t")]
        case 0..<0x20:
            out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 15)]]
        default: out.append(byte)
        }
    }
}

/// Copies the container's output into the log (and to our own stdout and
/// stderr when a foreground CLI is attached) until every stream closes.
func pumpOutput(streams: [(fd: Int32, name: String, echo: Int32)], log: inout LogWriter?) {
    var open = streams
    var buffer = [UInt8](repeating: 0, count: 32768)
    while !open.isEmpty {
        var pollFDs = open.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        let ready = poll(&pollFDs, nfds_t(pollFDs.count), -1)
        if ready < 0 {
            if errno == EINTR { continue }
            break
        }
        var closed: [Int32] = []
        for (index, p) in pollFDs.enumerated() where p.revents != 0 {
            let stream = open[index]
            let n = buffer.withUnsafeMutableBytes { read(stream.fd, $0.baseAddress, $0.count) }
            if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            if n <= 0 {
                closed.append(stream.fd)
                log?.flush(stream.name)
                continue
            }
            if stream.echo >= 0 { writeAll(stream.echo, Array(buffer[0..<n])) }
            log?.append(buffer[0..<n], stream: stream.name)
        }
        for fd in closed { close(fd) }
        open.removeAll { closed.contains($0.fd) }
    }
}
