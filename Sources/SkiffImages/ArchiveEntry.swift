/// One entry of a tar archive, as Skiff writes and lists them.
///
/// `path` is written as given, never cleaned: the tests build hostile
/// archives ("../evil", "/tmp/x") with the same writer.
public struct ArchiveEntry: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case directory
        case regular
        case symlink(target: String)
        /// A hard link to an earlier entry of the same archive.
        case hardlink(target: String)
        case characterDevice(major: UInt32, minor: UInt32)
        case blockDevice(major: UInt32, minor: UInt32)
        case fifo
        case socket
    }

    public var path: String
    public var kind: Kind
    /// Permission bits, with setuid, setgid and sticky: 0o7777 at most.
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// Seconds since 1970; Skiff's own layers use 0.
    public var mtime: Int64
    /// The data of a regular file (when writing, or listing with contents).
    public var contents: [UInt8]
    /// Size recorded in the header (0 for everything but regular files).
    public var size: Int64
    /// Extended attributes (pax SCHILY.xattr / LIBARCHIVE.xattr records).
    public var xattrs: [String: [UInt8]]
    /// A regular file whose data the writer streams from this path (`size`
    /// bytes) instead of `contents`: how a big layer stays out of memory.
    public var source: String? = nil

    public init(path: String, kind: Kind, mode: UInt32, uid: UInt32 = 0, gid: UInt32 = 0,
                mtime: Int64 = 0, contents: [UInt8] = [], xattrs: [String: [UInt8]] = [:]) {
        self.path = path
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.contents = contents
        self.size = Int64(contents.count)
        self.xattrs = xattrs
    }

    public static func directory(_ path: String, mode: UInt32 = 0o755) -> ArchiveEntry {
        ArchiveEntry(path: path, kind: .directory, mode: mode)
    }

    public static func file(_ path: String, _ contents: [UInt8], mode: UInt32 = 0o644) -> ArchiveEntry {
        ArchiveEntry(path: path, kind: .regular, mode: mode, contents: contents)
    }

    public static func file(_ path: String, _ text: String, mode: UInt32 = 0o644) -> ArchiveEntry {
        ArchiveEntry(path: path, kind: .regular, mode: mode, contents: Array(text.utf8))
    }

    public static func symlink(_ path: String, to target: String) -> ArchiveEntry {
        ArchiveEntry(path: path, kind: .symlink(target: target), mode: 0o777)
    }

    public static func hardlink(_ path: String, to target: String, mode: UInt32 = 0o644) -> ArchiveEntry {
        ArchiveEntry(path: path, kind: .hardlink(target: target), mode: mode)
    }

    /// The S_IFMT bits of this kind (a hard link is a regular file).
    var fileTypeBits: UInt32 {
        switch kind {
        case .directory: return 0o040000
        case .regular, .hardlink: return 0o100000
        case .symlink: return 0o120000
        case .characterDevice: return 0o020000
        case .blockDevice: return 0o060000
        case .fifo: return 0o010000
        case .socket: return 0o140000
        }
    }
}
