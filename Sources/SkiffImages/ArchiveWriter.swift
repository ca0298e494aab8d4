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
    /// which stays open and is never seeked (a pipe will do); with
    /// `hashing`, into `fd` through our own sink, which takes the sha256 of
    /// what is written (`writtenDigest`).
    public init(compression: Compression, fd: Int32? = nil, hashing: Bool = false) throws(SkiffError) {
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
        if let fd, !hashing {
            try check(archive_write_open_fd(archive, fd), "open the archive")
            return
        }
        output.fd = fd ?? -1
        let client = Unmanaged.passUnretained(output).toOpaque()
        try check(archive_write_open2(archive, client, nil, { _, client, buffer, length in
            guard let client, let buffer else { return -1 }
            let output = Unmanaged<OutputBuffer>.fromOpaque(client).takeUnretainedValue()
            return output.take(UnsafeRawBufferPointer(start: buffer, count: length)) ? la_ssize_t(length) : -1
        }, nil, nil), "open the archive")
    }

    deinit {
        archive_write_free(archive)
    }

    /// sha256 and length of the bytes written so far (a `hashing` writer).
    public var writtenDigest: (digest: Digest, size: Int64) { (output.hasher.finalize(), output.hasher.count) }

    public func add(_ entry: ArchiveEntry) throws(SkiffError) {
        if let source = entry.source {
            let fd = try syscall("open \(source)") { open(source, O_RDONLY | O_CLOEXEC) }
            defer { close(fd) }
            try writeHeader(entry, size: entry.size)
            _ = try copyData(from: fd, size: entry.size, source: source, as: entry.path, hashing: false)
            return
        }
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
        let digest = try copyData(from: fd, size: Int64(st.st_size), source: source, as: path, hashing: expected != nil)
        if let expected, digest != expected {
            throw SkiffError(.invalidData, "blob \(expected) is corrupt: its content does not match its digest")
        }
    }

    /// Streams `size` bytes of `fd` as the data of the entry just written,
    /// in 1 MiB chunks; with `hashing`, returns their sha256.
    private func copyData(from fd: Int32, size: Int64, source: String, as path: String,
                          hashing: Bool) throws(SkiffError) -> Digest? {
        var hasher = Digest.Hasher256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var left = size
        while left > 0 {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, min($0.count, Int(left))) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw SkiffError.system("read \(source)") }
            if n == 0 { throw SkiffError(.invalidData, "\(source) got shorter while it was being archived") }
            let written = buffer.withUnsafeBytes { raw in
                if hashing { hasher.update(UnsafeRawBufferPointer(rebasing: raw[0..<n])) }
                return archive_write_data(archive, raw.baseAddress, n)
            }
            if written != n { throw SkiffError(.system, "libarchive: write the data of \(path): \(errorString)") }
            left -= Int64(n)
        }
        return hashing ? hasher.finalize() : nil
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

/// Where the writer's (compressed) bytes go: memory, or a descriptor while
/// they are hashed (`LayerWriter.write(_:into:)`).
private final class OutputBuffer {
    var bytes: [UInt8] = []
    var fd: Int32 = -1
    var hasher = Digest.Hasher256()
    var failure: Int32 = 0

    func take(_ buffer: UnsafeRawBufferPointer) -> Bool {
        guard fd >= 0 else { bytes.append(contentsOf: buffer); return true }
        hasher.update(buffer)
        var done = 0
        while done < buffer.count {
            let n = write(fd, buffer.baseAddress! + done, buffer.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { failure = errno; return false }
            done += n
        }
        return true
    }
}

/// The layer of an image: a gzip tar of sorted entries, with the digests an
/// image needs (the blob's, and the diff_id of the uncompressed tar).
public struct LayerBlob: Sendable {
    /// The blob, when it was made in memory (empty when it is in `file`).
    public var bytes: [UInt8]
    public var digest: Digest
    /// sha256 of the uncompressed tar: the layer's entry in rootfs.diff_ids.
    public var diffID: Digest
    public var uncompressedSize: Int64
    /// A temporary file under the state root's tmp/ holding the blob, when
    /// it was streamed (`LayerWriter.write(_:into:)`); the image store moves
    /// it into place (`ImageStore.writeImageBlobs`) or removes it.
    public var file: String? = nil
    /// The blob's length.
    public var size: Int64

    init(bytes: [UInt8], digest: Digest, diffID: Digest, uncompressedSize: Int64) {
        self.bytes = bytes
        self.digest = digest
        self.diffID = diffID
        self.uncompressedSize = uncompressedSize
        self.size = Int64(bytes.count)
    }

    init(file: String, digest: Digest, size: Int64, diffID: Digest, uncompressedSize: Int64) {
        self.init(bytes: [], digest: digest, diffID: diffID, uncompressedSize: uncompressedSize)
        self.file = file
        self.size = size
    }

    /// Removes the temporary file, if any (after a failure, or once the
    /// store had the blob already).
    public func discard() {
        if let file { unlink(file) }
    }
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

    /// Writes the layer as `write` does, streamed into a new file under
    /// `directory` (the state root's tmp/) while hashing the compressed
    /// bytes; the diff_id is then read back from the file, also streamed.
    /// Entries with a `source` are read from disk as they are written, so
    /// the layer's size does not matter. On error the file is removed.
    public static func write(_ entries: [ArchiveEntry], into directory: String) throws(SkiffError) -> LayerBlob {
        try Files.makeDirectories(directory)
        let (fd, path) = try Files.makeTemporaryFile(prefix: directory + "/layer-")
        do throws(SkiffError) {
            defer { close(fd) }
            let writer = try ArchiveWriter(compression: .gzip, fd: fd, hashing: true)
            for entry in sortedForLayer(entries) { try writer.add(entry) }
            _ = try writer.finish()
            let (digest, size) = writer.writtenDigest
            let (diffID, uncompressed) = try ArchiveReader.uncompressedDigest(ofFile: path)
            return LayerBlob(file: path, digest: digest, size: size, diffID: diffID, uncompressedSize: uncompressed)
        } catch {
            unlink(path)
            throw error
        }
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
