import CArchive
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Writes a tar archive (pax restricted: plain ustar headers unless a field
/// needs a pax record), optionally gzip-compressed, into memory or straight
/// to a file descriptor with libarchive.
///
/// The output depends on the entries only: entries are written in the order
/// given (sort them first; `LayerWriter` does), times are the entries' own,
/// and the gzip header carries neither a timestamp nor a file name, so the
/// same entries always give the same bytes and digest.
public final class ArchiveWriter {
    public enum Compression: Sendable {
        case none
        case gzip
    }

    private let archive: OpaquePointer
    private let output = OutputBuffer()
    private var finished = false

    /// A writer into memory (`finish` returns the bytes), or into `fd`,
    /// which stays open and is never seeked (a pipe will do).
    public init(compression: Compression, fd: Int32? = nil) throws(SkiffError) {
        guard let archive = archive_write_new() else {
            throw SkiffError(.system, "libarchive: cannot allocate an archive writer")
        }
        self.archive = archive
        try check(archive_write_set_format_pax_restricted(archive), "set the tar format")
        switch compression {
        case .none:
            try check(archive_write_add_filter_none(archive), "set no compression")
        case .gzip:
            try check(archive_write_add_filter_gzip(archive), "add the gzip filter")
            // A NULL value turns the option off: the gzip header's MTIME is 0
            // (libarchive writes no FNAME field either).
            try check(archive_write_set_filter_option(archive, "gzip", "timestamp", nil), "turn off the gzip timestamp")
        }
        // No padding of the last block to 10240 bytes: the stream ends with
        // the tar end-of-archive marker (and the gzip trailer).
        try check(archive_write_set_bytes_in_last_block(archive, 1), "set the last block size")
        if let fd {
            try check(archive_write_open_fd(archive, fd), "open the archive")
            return
        }
        let client = Unmanaged.passUnretained(output).toOpaque()
        try check(archive_write_open2(archive, client, nil, { _, client, buffer, length in
            guard let client, let buffer else { return -1 }
            let output = Unmanaged<OutputBuffer>.fromOpaque(client).takeUnretainedValue()
            output.bytes.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: length))
            return la_ssize_t(length)
        }, nil, nil), "open the archive")
    }

    deinit {
        archive_write_free(archive)
    }

    public func add(_ entry: ArchiveEntry) throws(SkiffError) {
        try writeHeader(entry, size: Int64(entry.contents.count))
        if case .regular = entry.kind, !entry.contents.isEmpty {
            let written = entry.contents.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, $0.count) }
            if written != entry.contents.count {
                throw SkiffError(.system, "libarchive: write the data of \(entry.path): \(errorString)")
            }
        }
    }

    /// The entry's header; a regular file's data (`size` bytes) must follow.
    private func writeHeader(_ entry: ArchiveEntry, size: Int64) throws(SkiffError) {
        guard let e = archive_entry_new() else {
            throw SkiffError(.system, "libarchive: cannot allocate an archive entry")
        }
        defer { archive_entry_free(e) }
        archive_entry_set_pathname(e, entry.path)
        archive_entry_set_mode(e, mode_t(entry.fileTypeBits | (entry.mode & 0o7777)))
        archive_entry_set_uid(e, la_int64_t(entry.uid))
        archive_entry_set_gid(e, la_int64_t(entry.gid))
        archive_entry_set_mtime(e, time_t(entry.mtime), 0)
        archive_entry_set_size(e, 0)
        switch entry.kind {
        case .regular:
            archive_entry_set_size(e, la_int64_t(size))
        case .symlink(let target):
            archive_entry_set_symlink(e, target)
        case .hardlink(let target):
            archive_entry_set_hardlink(e, target)
        case .characterDevice(let major, let minor), .blockDevice(let major, let minor):
            archive_entry_set_rdevmajor(e, dev_t(major))
            archive_entry_set_rdevminor(e, dev_t(minor))
        case .directory, .fifo, .socket:
            break
        }
        for (name, value) in entry.xattrs.sorted(by: { $0.key < $1.key }) {
            value.withUnsafeBytes { archive_entry_xattr_add_entry(e, name, $0.baseAddress, $0.count) }
        }
        try check(archive_write_header(archive, e), "write the header of \(entry.path)")
    }

    /// Adds the regular file `source` as `path` (owner 0:0, mtime 0, as
    /// `ArchiveEntry.file` writes), streamed in 1 MiB chunks. With
    /// `expected`, the content must have that digest: a blob that changed
    /// on disk is an error, not a corrupt archive.
    public func addFile(_ path: String, from source: String, mode: UInt32 = 0o644,
                        expected: Digest? = nil) throws(SkiffError) {
        let fd = try syscall("open \(source)") { open(source, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var st = stat()
        try syscall("stat \(source)") { fstat(fd, &st) }
        var header = ArchiveEntry.file(path, [UInt8](), mode: mode)
        header.size = Int64(st.st_size)
        try writeHeader(header, size: Int64(st.st_size))
        var hasher = Digest.Hasher256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var left = Int64(st.st_size)
        while left > 0 {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, min($0.count, Int(left))) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw SkiffError.system("read \(source)") }
            if n == 0 { throw SkiffError(.invalidData, "\(source) got shorter while it was being archived") }
            let written = buffer.withUnsafeBytes { raw in
                hasher.update(UnsafeRawBufferPointer(rebasing: raw[0..<n]))
                return archive_write_data(archive, raw.baseAddress, n)
            }
            if written != n { throw SkiffError(.system, "libarchive: write the data of \(path): \(errorString)") }
            left -= Int64(n)
        }
        if let expected, hasher.finalize() != expected {
            throw SkiffError(.invalidData, "blob \(expected) is corrupt: its content does not match its digest")
        }
    }

    /// Closes the archive and returns its bytes (none when writing to a descriptor).
    public func finish() throws(SkiffError) -> [UInt8] {
        if !finished {
            try check(archive_write_close(archive), "close the archive")
            finished = true
        }
        return output.bytes
    }

    /// Writes `entries` in the order given.
    public static func write(_ entries: [ArchiveEntry], compression: Compression) throws(SkiffError) -> [UInt8] {
        let writer = try ArchiveWriter(compression: compression)
        for entry in entries { try writer.add(entry) }
        return try writer.finish()
    }

    private var errorString: String {
        archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
    }

    private func check(_ result: Int32, _ doing: String) throws(SkiffError) {
        if result < ARCHIVE_WARN {
            throw SkiffError(.system, "libarchive: \(doing): \(errorString)")
        }
    }
}

private final class OutputBuffer {
    var bytes: [UInt8] = []
}

/// The layer of an image: a gzip tar of sorted entries, with the digests an
/// image needs (the blob's, and the diff_id of the uncompressed tar).
public struct LayerBlob: Sendable {
    public var bytes: [UInt8]
    public var digest: Digest
    /// sha256 of the uncompressed tar: the layer's entry in rootfs.diff_ids.
    public var diffID: Digest
    public var uncompressedSize: Int64
}

public enum LayerWriter {
    /// Writes a reproducible gzip tar layer: entries sorted by path, with
    /// hard links after every other entry (their targets must come first);
    /// times, owners and modes are the entries' own.
    public static func write(_ entries: [ArchiveEntry]) throws(SkiffError) -> LayerBlob {
        let sorted = sortedForLayer(entries)
        let bytes = try ArchiveWriter.write(sorted, compression: .gzip)
        let (diffID, size) = try ArchiveReader.uncompressedDigest(of: bytes)
        return LayerBlob(bytes: bytes, digest: Digest.of(bytes), diffID: diffID, uncompressedSize: size)
    }

    /// Sorted by path, hard links last: a stable, total order.
    public static func sortedForLayer(_ entries: [ArchiveEntry]) -> [ArchiveEntry] {
        func isLink(_ e: ArchiveEntry) -> Bool {
            if case .hardlink = e.kind { return true }
            return false
        }
        return entries.sorted { a, b in
            let (la, lb) = (isLink(a), isLink(b))
            if la != lb { return !la }
            return Array(a.path.utf8).lexicographicallyPrecedes(Array(b.path.utf8))
        }
    }
}
