import Glibc
import SkiffCommon

/// One namespace of a process as the kernel names it: "pid:[4026532180]".
public struct NamespaceID: Codable, Sendable, Equatable {
    public var type: String
    public var link: String

    public init(type: String, link: String) {
        self.type = type
        self.link = link
    }

    /// The inode number inside the brackets.
    public var inode: String {
        guard let open = link.firstIndex(of: "["), let close = link.lastIndex(of: "]") else { return link }
        return String(link[link.index(after: open)..<close])
    }
}

public enum Namespaces {
    /// The namespace types a container gets, in the order they are shown.
    public static let containerTypes = ["pid", "mnt", "uts", "ipc", "net", "cgroup"]
    /// Shared with the host on purpose (no user namespace yet).
    public static let sharedTypes = ["user", "time"]

    /// readlink of /proc/PID/ns/TYPE, nil when the process is gone.
    public static func namespace(of pid: Int32, _ type: String, proc: String = "/proc") -> NamespaceID? {
        var buffer = [CChar](repeating: 0, count: 256)
        let n = readlink("\(proc)/\(pid)/ns/\(type)", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let link = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return NamespaceID(type: type, link: link)
    }

    /// Ours, standing in for the host's: /proc/1/ns cannot be read here.
    public static func host(_ type: String) -> NamespaceID? {
        namespace(of: getpid(), type)
    }
}

/// One line of /proc/PID/mountinfo.
public struct MountInfo: Sendable, Equatable {
    public var mountPoint: String
    public var fsType: String
    public var source: String
    public var mountOptions: String
    public var superOptions: String

    /// Parses mountinfo text (see proc(5)): fields, " - ", type, source, super options.
    /// `keeping` sees each line's file system type and mount point (still
    /// escaped) first: the lines it refuses are not parsed further. Works on
    /// UTF-8 bytes: splitting a String by Character costs a grapheme lookup
    /// per byte, which had been a tenth of `run`'s CLI time.
    public static func parse(_ text: String,
                             keeping: (_ fsType: Substring.UTF8View, _ mountPoint: Substring.UTF8View) -> Bool = { _, _ in true })
        -> [MountInfo] {
        let space = UInt8(ascii: " ")
        return text.utf8.split(separator: UInt8(ascii: "\n")).compactMap { line in
            // The optional fields end at a lone "-".
            let fields = line.split(separator: space, omittingEmptySubsequences: false)
            guard let dash = fields.firstIndex(where: { $0.elementsEqual("-".utf8) }) else { return nil }
            let left = fields[..<dash].filter { !$0.isEmpty }
            let right = fields[(dash + 1)...]
            guard left.count >= 6, right.count >= 3 else { return nil }
            let r = right.startIndex
            guard keeping(right[r], left[4]) else { return nil }
            func text(_ field: Substring.UTF8View) -> String { String(decoding: field, as: UTF8.self) }
            return MountInfo(mountPoint: unescape(text(left[4])), fsType: text(right[r]),
                             source: unescape(text(right[r + 1])), mountOptions: text(left[5]),
                             superOptions: text(right[r + 2]))
        }
    }

    /// mountinfo writes space, tab, newline and backslash as octal escapes.
    static func unescape(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out: [UInt8] = []
        let bytes = Array(s.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 92, i + 3 < bytes.count,
               let value = UInt8(String(decoding: bytes[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(value)
                i += 4
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    func components(separatedBy separator: String) -> [String] {
        var result: [String] = []
        var rest = Substring(self)
        while let range = rest.firstRange(of: separator) {
            result.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        result.append(String(rest))
        return result
    }
}
