import FoundationEssentials
import Glibc
import SkiffCommon

public struct LogLine: Codable, Sendable {
    public var log: String
    public var stream: String
    public var time: String
}

extension Engine {
    /// `docker logs [-f] [--tail N] [-t]`: the json-file log the monitor writes.
    /// `emit` gets each line; with `follow`, keeps reading until the container stops.
    public func logs(_ reference: String, follow: Bool, tail: Int?, timestamps: Bool,
                     emit: (LogLine) -> Void) throws(SkiffError) {
        let c = try container(reference)
        let fd = open(c.logPath, O_RDONLY | O_CLOEXEC)
        if fd < 0 && !follow { return }
        var handle = fd
        defer { if handle >= 0 { close(handle) } }
        var pending: [UInt8] = []
        var first = true

        func drain() {
            guard handle >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(handle, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                pending.append(contentsOf: buffer[0..<n])
            }
            var lines: [LogLine] = []
            var start = 0
            for (i, byte) in pending.enumerated() where byte == 10 {
                if let line = try? JSONDecoder().decode(LogLine.self, from: Data(pending[start..<i])) {
                    lines.append(line)
                }
                start = i + 1
            }
            pending.removeFirst(start)
            if first, let tail, tail >= 0 { lines = Array(lines.suffix(tail)) }
            first = false
            lines.forEach(emit)
        }

        drain()
        guard follow else { return }
        while true {
            let running = StateFiles.read(directory: c.directory).status == .running
            if handle < 0 { handle = open(c.logPath, O_RDONLY | O_CLOEXEC) }
            drain()
            if !running {
                drain()
                return
            }
            usleep(50_000)
        }
    }
}
