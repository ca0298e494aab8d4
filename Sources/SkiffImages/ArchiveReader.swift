import CArchive
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Reads tar archives (plain, gzip or zstd) with libarchive: lists entries
/// and digests the uncompressed stream. Extraction is `LayerUnpacker`'s job.
public enum ArchiveReader {
    /// The entries of a tar in memory; regular files' data when `contents`.
    public static func entries(of bytes: [UInt8], contents: Bool = false) throws(SkiffError) -> [ArchiveEntry] {
        let result: Result<[ArchiveEntry], SkiffError> = bytes.withUnsafeBytes { raw in
            do throws(SkiffError) {
                let reader = try TarReader(what: "archive")
                try reader.open(memory: raw)
                return .success(try reader.allEntries(contents: contents))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The entries of a tar file.
    public static func entries(ofFile path: String, contents: Bool = false) throws(SkiffError) -> [ArchiveEntry] {
        let reader = try TarReader(what: path)
        try reader.open(file: path)
        return try reader.allEntries(contents: contents)
    }

    /// sha256 and length of the uncompressed stream of a (possibly
    /// compressed) tar in memory: its diff_id.
    public static func uncompressedDigest(of bytes: [UInt8]) throws(SkiffError) -> (digest: Digest, size: Int64) {
        let result: Result<(digest: Digest, size: Int64), SkiffError> = bytes.withUnsafeBytes { raw in
            do throws(SkiffError) {
                let reader = try RawReader(what: "archive")
                try reader.open(memory: raw)
                return .success(try reader.digest())
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// sha256 and length of the uncompressed stream of a tar file.
    public static func uncompressedDigest(ofFile path: String) throws(SkiffError) -> (digest: Digest, size: Int64) {
        let reader = try RawReader(what: path)
        try reader.open(file: path)
        return try reader.digest()
    }
}

/// A libarchive read handle; `what` names the archive in errors.
class ArchiveReadHandle {
    let archive: OpaquePointer
    let what: String
    private var fd: Int32 = -1

    init(what: String, compressed: Bool = true, configure: (OpaquePointer) -> Void) throws(SkiffError) {
        guard let archive = archive_read_new() else {
            throw SkiffError(.system, "libarchive: cannot allocate an archive reader")
        }
        self.archive = archive
        self.what = what
        // Compression is detected from the bytes: none, gzip or zstd.
        if compressed {
            archive_read_support_filter_gzip(archive)
            archive_read_support_filter_zstd(archive)
        }
        configure(archive)
    }

    deinit {
        archive_read_free(archive)
        if fd >= 0 { close(fd) }
    }

    func open(file path: String) throws(SkiffError) {
        fd = try syscall("open \(path)") { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
        try check(archive_read_open_fd(archive, fd, 1 << 16), "open")
    }

    /// A descriptor the caller owns (stdin), read to its end.
    func open(fd borrowed: Int32) throws(SkiffError) {
        try check(archive_read_open_fd(archive, borrowed, 1 << 16), "open")
    }

    /// The memory must stay valid until the handle is freed.
    func open(memory: UnsafeRawBufferPointer) throws(SkiffError) {
        try check(archive_read_open_memory(archive, memory.baseAddress, memory.count), "open")
    }

    var errorString: String {
        archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
    }

    func check(_ result: Int32, _ doing: String) throws(SkiffError) {
        if result < ARCHIVE_WARN {
            throw SkiffError(.invalidData, "\(what): cannot \(doing) the archive: \(errorString)")
        }
    }
}

final class RawReader: ArchiveReadHandle {
    init(what: String) throws(SkiffError) {
        try super.init(what: what) { archive_read_support_format_raw($0) }
    }

    func digest() throws(SkiffError) -> (digest: Digest, size: Int64) {
        var entry: OpaquePointer?
        let r = archive_read_next_header(archive, &entry)
        var hasher = Digest.Hasher256()
        if r == ARCHIVE_EOF { return (hasher.finalize(), 0) }
        try check(r, "read")
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { archive_read_data(archive, $0.baseAddress, $0.count) }
            if n < 0 { try check(Int32(n), "decompress") }
            if n <= 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return (hasher.finalize(), hasher.count)
    }
}

final class TarReader: ArchiveReadHandle {
    init(what: String, compressed: Bool = true) throws(SkiffError) {
        try super.init(what: what, compressed: compressed) { archive_read_support_format_tar($0) }
    }

    /// Reads the tar from `source`'s uncompressed stream, block by block
    /// without a copy (the reader must be made with `compressed: false`).
    func open(source: UncompressedStream) throws(SkiffError) {
        let client = Unmanaged.passUnretained(source).toOpaque()
        try check(archive_read_open(archive, client, nil, { _, client, buffer in
            guard let client, let buffer else { return -1 }
            return Unmanaged<UncompressedStream>.fromOpaque(client).takeUnretainedValue().nextBlock(buffer)
        }, nil), "open")
    }

    /// The next header, or nil at the end.
    func next() throws(SkiffError) -> OpaquePointer? {
        var entry: OpaquePointer?
        let r = archive_read_next_header(archive, &entry)
        if r == ARCHIVE_EOF { return nil }
        try check(r, "read")
        return entry
    }

    func allEntries(contents: Bool) throws(SkiffError) -> [ArchiveEntry] {
        var result: [ArchiveEntry] = []
        while let e = try next() {
            var entry = Self.describe(e)
            if contents, case .regular = entry.kind {
                entry.contents = try readData(size: entry.size)
            }
            result.append(entry)
        }
        return result
    }

    func readData(size: Int64) throws(SkiffError) -> [UInt8] {
        var data: [UInt8] = []
        data.reserveCapacity(Int(max(0, min(size, 1 << 26))))
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { archive_read_data(archive, $0.baseAddress, $0.count) }
            if n < 0 { try check(Int32(n), "read data from") }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        return data
    }

    /// The entry as Skiff sees it; a directory's trailing "/" (tar writers
    /// add one) is dropped.
    static func describe(_ e: OpaquePointer) -> ArchiveEntry {
        var path = archive_entry_pathname(e).map { String(cString: $0) } ?? ""
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        let type = UInt32(archive_entry_filetype(e)) & 0o170000
        let kind: ArchiveEntry.Kind
        if let link = archive_entry_hardlink(e) {
            kind = .hardlink(target: String(cString: link))
        } else {
            switch type {
            case 0o040000: kind = .directory
            case 0o120000: kind = .symlink(target: archive_entry_symlink(e).map { String(cString: $0) } ?? "")
            case 0o020000: kind = .characterDevice(major: UInt32(archive_entry_rdevmajor(e)), minor: UInt32(archive_entry_rdevminor(e)))
            case 0o060000: kind = .blockDevice(major: UInt32(archive_entry_rdevmajor(e)), minor: UInt32(archive_entry_rdevminor(e)))
            case 0o010000: kind = .fifo
            case 0o140000: kind = .socket
            default: kind = .regular
            }
        }
        var entry = ArchiveEntry(path: path, kind: kind, mode: UInt32(archive_entry_perm(e)) & 0o7777,
                                 uid: UInt32(truncatingIfNeeded: archive_entry_uid(e)),
                                 gid: UInt32(truncatingIfNeeded: archive_entry_gid(e)),
                                 mtime: Int64(archive_entry_mtime(e)))
        entry.size = archive_entry_size(e)
        entry.xattrs = xattrs(of: e)
        return entry
    }

    static func xattrs(of e: OpaquePointer) -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        guard archive_entry_xattr_reset(e) > 0 else { return result }
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK {
            guard let name else { continue }
            result[String(cString: name)] = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
        }
        return result
    }
}

/// The uncompressed bytes of a (gzip, zstd or plain) file, handed out in
/// libarchive's own blocks and hashed on the way: one pass gives both the
/// tar to extract and its diff_id.
final class UncompressedStream {
    private let raw: RawReader
    private var hasher = Digest.Hasher256()
    private(set) var failure: String? = nil

    init(file path: String) throws(SkiffError) {
        raw = try RawReader(what: path)
        try raw.open(file: path)
        var entry: OpaquePointer?
        let r = archive_read_next_header(raw.archive, &entry)
        if r != ARCHIVE_EOF { try raw.check(r, "read") }
    }

    /// libarchive's read callback: the next block, or 0 at the end, -1 on error.
    func nextBlock(_ out: UnsafeMutablePointer<UnsafeRawPointer?>) -> la_ssize_t {
        var block: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        let r = archive_read_data_block(raw.archive, &block, &size, &offset)
        if r == ARCHIVE_EOF { return 0 }
        if r < ARCHIVE_WARN {
            failure = raw.errorString
            return -1
        }
        if let block, size > 0 { hasher.update(UnsafeRawBufferPointer(start: block, count: size)) }
        out.pointee = block
        return la_ssize_t(size)
    }

    /// Reads what the tar reader left (the zero blocks after the end of the
    /// archive) and returns the digest of the whole stream.
    func finish() throws(SkiffError) -> Digest {
        var ignored: UnsafeRawPointer?
        while true {
            let n = nextBlock(&ignored)
            if n == 0 { break }
            if n < 0 { throw SkiffError(.invalidData, "\(raw.what): cannot decompress the archive: \(failure ?? "unknown error")") }
        }
        return hasher.finalize()
    }
}
