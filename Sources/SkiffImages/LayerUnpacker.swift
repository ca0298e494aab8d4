import CArchive
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Extracts image layers (plain, gzip or zstd tars) safely with libarchive's
/// archive_write_disk, and turns OCI whiteouts into overlayfs ones.
///
/// Safety, in two rings:
/// - Skiff's own checks, before libarchive sees an entry: no absolute path,
///   no ".." component, no hard link whose target is absolute or has "..",
///   no hard link or whiteout through a symlink, no block or character
///   device; each refused with `.invalidData` naming the entry.
/// - libarchive's: ARCHIVE_EXTRACT_SECURE_NODOTDOT, _SECURE_SYMLINKS (no
///   writing through a symlink, e.g. "link -> /tmp" then "link/evil") and
///   _SECURE_NOABSOLUTEPATHS, with PERM, XATTR, TIME (mtimes kept) and, as
///   root, OWNER.
///
/// Entry paths stay relative: extraction runs on a thread of its own that
/// has unshared its filesystem context (unshare(CLONE_FS)) and chdir'ed into
/// the target, so the process's other threads keep their working directory
/// and umask.
public enum LayerUnpacker {
    public struct Summary: Sendable, Equatable {
        /// Entries extracted (whiteouts not counted).
        public var entries = 0
        /// `.wh.NAME` files turned into 0/0 character devices.
        public var whiteouts = 0
        /// `.wh..wh..opq` markers turned into trusted.overlay.opaque=y.
        public var opaqueDirectories = 0
        /// Bytes of regular files, hard links not counted again: the
        /// layer's size as Docker reports it (see `LayerContentSize`).
        public var contentBytes: Int64 = 0

        public init(entries: Int = 0, whiteouts: Int = 0, opaqueDirectories: Int = 0, contentBytes: Int64 = 0) {
            self.entries = entries
            self.whiteouts = whiteouts
            self.opaqueDirectories = opaqueDirectories
            self.contentBytes = contentBytes
        }
    }

    /// Extracts the tar at `archive` into `directory`, which must exist (and
    /// should be empty). On error the directory is left as it is: callers
    /// extract into a staging directory and remove it (see `install`).
    public static func unpack(archive: String, into directory: String) throws(SkiffError) -> Summary {
        try unpack(archive: archive, into: directory, digesting: false).summary
    }

    /// Extracts as `unpack` does; with `digesting`, also returns the sha256
    /// of the whole uncompressed stream (the diff_id), taken in the same pass.
    static func unpack(archive: String, into directory: String,
                       digesting: Bool) throws(SkiffError) -> (summary: Summary, digest: Digest?) {
        // Opened before the worker changes directory, so a relative path works.
        let stream = digesting ? try UncompressedStream(file: archive) : nil
        let reader = try TarReader(what: "layer \(archive)", compressed: stream == nil)
        if let stream { try reader.open(source: stream) } else { try reader.open(file: archive) }
        var result: Result<Summary, SkiffError> = .failure(SkiffError(.system, "layer extraction did not run"))
        let started = PrivateFSThread.run {
            do throws(SkiffError) {
                guard skiff_archive_unshare_fs() == 0 else {
                    throw SkiffError.system("unshare the filesystem context of the extraction thread")
                }
                guard chdir(directory) == 0 else { throw SkiffError.system("chdir to \(directory)") }
                umask(0o022)
                result = .success(try Extraction(reader: reader).run())
            } catch {
                result = .failure(error)
            }
        }
        guard started == 0 else { throw SkiffError.system("start the layer extraction thread", errno: started) }
        do throws(SkiffError) {
            let summary = try result.get()
            return (summary, try stream?.finish())
        } catch {
            if let why = stream?.failure {
                throw SkiffError(.invalidData, "layer \(archive): cannot decompress the archive: \(why)")
            }
            throw error
        }
    }

    /// Unpacks a layer under its final name, never leaving half a layer
    /// there: extracts into a new directory under `staging` while taking the
    /// uncompressed tar's sha256, checks it is `diffID` (when given), then renames it
    /// to `destination`. When another process won the race the existing
    /// directory is kept and the staging copy removed. On error the staging
    /// directory is removed. Returns true when this call created the layer.
    @discardableResult
    public static func install(archive: String, diffID: Digest?, at destination: String,
                               staging: String) throws(SkiffError) -> Bool {
        if Files.isDirectory(destination) { return false }
        try Files.makeDirectories(staging)
        let parent = String(destination[..<(destination.lastIndex(of: "/") ?? destination.startIndex)])
        if !parent.isEmpty { try Files.makeDirectories(parent) }

        let name = destination.split(separator: "/").last.map(String.init) ?? "layer"
        let temp = try makeTemporaryDirectory(in: staging, prefix: "unpack-\(name.prefix(12))-")
        do throws(SkiffError) {
            // One pass: the diff_id is taken while extracting into staging;
            // a layer that does not match it never reaches `destination`.
            let (summary, actual) = try unpack(archive: archive, into: temp, digesting: diffID != nil)
            if let diffID, let actual, actual != diffID {
                throw SkiffError(.invalidData, "layer \(archive) does not match its diff_id \(diffID): its uncompressed content is \(actual)")
            }
            // The layer's root is the container's "/": traversable by all.
            try syscall("chmod \(temp)") { chmod(temp, 0o755) }
            if skiff_archive_rename_noreplace(temp, destination) != 0 {
                let code = errno
                guard (code == EEXIST || code == ENOTEMPTY), Files.isDirectory(destination) else {
                    throw SkiffError.system("rename \(temp) to \(destination)", errno: code)
                }
                // Another unpack of the same layer finished first: keep it.
                try? removeTreeForcibly(temp)
                return false
            }
            LayerContentSize.remember(summary.contentBytes, layerDirectory: destination)
            return true
        } catch {
            try? removeTreeForcibly(temp)
            throw error
        }
    }

    /// mkdtemp under `directory`.
    static func makeTemporaryDirectory(in directory: String, prefix: String) throws(SkiffError) -> String {
        var template = Array((directory + "/" + prefix + "XXXXXX").utf8CString)
        let ok = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        guard ok else { throw SkiffError.system("create a temporary directory in \(directory)") }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// rm -rf that also copes with directories a layer left without write or
    /// search permission (extracting as non-root keeps such modes).
    static func removeTreeForcibly(_ path: String) throws(SkiffError) {
        do throws(SkiffError) {
            try Files.removeTree(path)
        } catch {
            makeWritable(path)
            try Files.removeTree(path)
        }
    }

    private static func makeWritable(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return }
        chmod(path, 0o700)
        for name in Files.list(path) { makeWritable(path + "/" + name) }
    }
}

/// One extraction, run with the current directory at the target.
private final class Extraction {
    let reader: TarReader
    let disk: OpaquePointer
    var summary = LayerUnpacker.Summary()

    init(reader: TarReader) throws(SkiffError) {
        guard let disk = archive_write_disk_new() else {
            throw SkiffError(.system, "libarchive: cannot allocate a disk writer")
        }
        self.reader = reader
        self.disk = disk
        var flags = ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS
            | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_PERM
            | ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_TIME
        // Only root can give files away; as another user every file is ours.
        if geteuid() == 0 { flags |= ARCHIVE_EXTRACT_OWNER }
        archive_write_disk_set_options(disk, flags)
    }

    deinit {
        archive_write_free(disk)
    }

    private var what: String { reader.what }

    private var diskError: String {
        archive_error_string(disk).map { String(cString: $0) } ?? "unknown error"
    }

    func run() throws(SkiffError) -> LayerUnpacker.Summary {
        while let entry = try reader.next() {
            try extract(entry)
        }
        if archive_write_close(disk) < ARCHIVE_WARN {
            throw SkiffError(.invalidData, "\(what): cannot finish extracting: \(diskError)")
        }
        return summary
    }

    private func refuse(_ path: String, _ why: String) -> SkiffError {
        SkiffError(.invalidData, "\(what): refusing entry \"\(path)\": \(why)")
    }

    private func extract(_ entry: OpaquePointer) throws(SkiffError) {
        let raw = archive_entry_pathname(entry).map { String(cString: $0) } ?? ""
        let path = try clean(raw)
        if path.isEmpty { return }  // "./": the layer's root itself

        let type = UInt32(archive_entry_filetype(entry)) & 0o170000
        if type == 0o020000 || type == 0o060000 {
            throw refuse(raw, "it is a \(type == 0o020000 ? "character" : "block") device; images may not carry device nodes")
        }
        if type == 0o140000 { return }  // sockets cannot be restored from a tar

        let components = path.split(separator: "/")
        let base = String(components.last!)
        let parent = components.dropLast().joined(separator: "/")

        if base.hasPrefix(Whiteout.prefix) {
            try whiteout(base: base, parent: parent, raw: raw)
            return
        }

        if let link = archive_entry_hardlink(entry) {
            let rawTarget = String(cString: link)
            let target = try clean(rawTarget, hardlinkOf: raw)
            guard !target.isEmpty else { throw refuse(raw, "it is a hard link to the layer's root") }
            try requireNoSymlinkParents(target, entry: raw)
            archive_entry_set_hardlink(entry, target)
        } else if type == 0o100000 {
            summary.contentBytes += archive_entry_size(entry)
        }

        // overlayfs keeps its own state in trusted.overlay.*: a layer may not set it.
        stripOverlayXattrs(entry)
        archive_entry_set_pathname(entry, path)

        let r = archive_write_header(disk, entry)
        if r < ARCHIVE_WARN {
            throw refuse(raw, diskError)
        }
        if archive_entry_size(entry) > 0 {
            try copyData(raw)
        }
        if archive_write_finish_entry(disk) < ARCHIVE_WARN {
            throw SkiffError(.invalidData, "\(what): cannot finish extracting \"\(raw)\": \(diskError)")
        }
        summary.entries += 1
    }

    private func copyData(_ raw: String) throws(SkiffError) {
        var block: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        while true {
            let r = archive_read_data_block(reader.archive, &block, &size, &offset)
            if r == ARCHIVE_EOF { return }
            if r < ARCHIVE_WARN {
                throw SkiffError(.invalidData, "\(what): cannot read the data of \"\(raw)\": \(reader.errorString)")
            }
            if archive_write_data_block(disk, block, size, offset) < ARCHIVE_WARN {
                throw SkiffError(.invalidData, "\(what): cannot write \"\(raw)\": \(diskError)")
            }
        }
    }

    /// "./a//b/" → "a/b"; "" for the root. Absolute paths and ".." refused.
    private func clean(_ raw: String, hardlinkOf entry: String? = nil) throws(SkiffError) -> String {
        let subject = entry ?? raw
        let role = entry == nil ? "its path" : "its hard link target \"\(raw)\""
        if raw.hasPrefix("/") {
            throw refuse(subject, "\(role) is absolute; layer paths are relative to the image's root")
        }
        var parts: [Substring] = []
        for part in raw.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                throw refuse(subject, "\(role) has a \"..\" component and could leave the layer")
            }
            parts.append(part)
        }
        if entry == nil && raw.isEmpty { throw refuse(raw, "its path is empty") }
        return parts.joined(separator: "/")
    }

    /// Every directory on the way to `path` must be a real directory, not a
    /// symlink that could lead out of the layer.
    private func requireNoSymlinkParents(_ path: String, entry: String) throws(SkiffError) {
        var prefix = ""
        for part in path.split(separator: "/").dropLast() {
            prefix += prefix.isEmpty ? String(part) : "/" + part
            var st = stat()
            if lstat(prefix, &st) != 0 { return }  // missing: libarchive reports it
            if (st.st_mode & S_IFMT) == S_IFLNK {
                throw refuse(entry, "it goes through the symlink \"\(prefix)\"")
            }
        }
    }

    private func stripOverlayXattrs(_ entry: OpaquePointer) {
        let xattrs = TarReader.xattrs(of: entry)
        guard xattrs.keys.contains(where: { $0.hasPrefix("trusted.overlay.") }) else { return }
        archive_entry_xattr_clear(entry)
        for (name, value) in xattrs.sorted(by: { $0.key < $1.key }) where !name.hasPrefix("trusted.overlay.") {
            value.withUnsafeBytes { archive_entry_xattr_add_entry(entry, name, $0.baseAddress, $0.count) }
        }
    }

    // MARK: whiteouts

    private func whiteout(base: String, parent: String, raw: String) throws(SkiffError) {
        if base == Whiteout.opaqueMarker {
            let fd = try openDirectory(parent, create: true, entry: raw)
            defer { close(fd) }
            let value: [UInt8] = [0x79]  // "y"
            let r = value.withUnsafeBytes { fsetxattr(fd, Whiteout.opaqueXattr, $0.baseAddress, 1, 0) }
            // Rootless, trusted.* is out of reach; the user's overlay (userxattr) reads only the user.* mark.
            let rootlessMark = r != 0 && geteuid() != 0
                && value.withUnsafeBytes { fsetxattr(fd, Whiteout.userOpaqueXattr, $0.baseAddress, 1, 0) } == 0
            if r != 0 && !rootlessMark {
                let code = errno
                if code == EPERM || code == EACCES {
                    throw SkiffError(.permission, "\(what): marking \"\(parent.isEmpty ? "/" : parent)\" opaque (\(raw)) needs root: setting \(Whiteout.opaqueXattr) needs CAP_SYS_ADMIN", errno: code)
                }
                throw SkiffError.system("\(what): set \(Whiteout.opaqueXattr) on \"\(parent)\"", errno: code)
            }
            // The same mark for a --userns=private overlay (mounted with
            // userxattr, it reads only user.overlay.*); best effort.
            _ = value.withUnsafeBytes { fsetxattr(fd, Whiteout.userOpaqueXattr, $0.baseAddress, 1, 0) }
            summary.opaqueDirectories += 1
            return
        }
        if base.hasPrefix(Whiteout.metaPrefix) { return }  // other aufs metadata (.wh..wh.plnk, …)
        let name = String(base.dropFirst(Whiteout.prefix.count))
        guard !name.isEmpty, name != ".", name != ".." else {
            throw refuse(raw, "it is a whiteout of nothing")
        }
        let fd = try openDirectory(parent, create: true, entry: raw)
        defer { close(fd) }
        if mknodat(fd, name, S_IFCHR | 0o000, skiff_archive_makedev(0, 0)) != 0 {
            let code = errno
            // The layer itself has a file of that name: a whiteout only hides
            // lower layers, which this file hides already.
            if code == EEXIST { return }
            if code == EPERM || code == EACCES {
                throw SkiffError(.permission, "\(what): converting the whiteout \(raw) into an overlay whiteout needs root (mknod of a 0/0 character device)", errno: code)
            }
            throw SkiffError.system("\(what): mknod the whiteout of \(raw)", errno: code)
        }
        summary.whiteouts += 1
    }

    /// Opens `path` (relative to the target) as a directory without following
    /// symlinks, creating missing directories on the way when `create`.
    private func openDirectory(_ path: String, create: Bool, entry: String) throws(SkiffError) -> Int32 {
        var fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SkiffError.system("open the layer directory") }
        for part in path.split(separator: "/") {
            let name = String(part)
            var next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0 && errno == ENOENT && create {
                if mkdirat(fd, name, 0o755) != 0 && errno != EEXIST {
                    let code = errno
                    close(fd)
                    throw SkiffError.system("\(what): create directory \(name) for \(entry)", errno: code)
                }
                next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            if next < 0 {
                let code = errno
                close(fd)
                if code == ELOOP || code == ENOTDIR {
                    throw refuse(entry, "\"\(path)\" is not a directory of the layer (a symlink or a file is in the way)")
                }
                throw SkiffError.system("\(what): open directory \(path) for \(entry)", errno: code)
            }
            close(fd)
            fd = next
        }
        return fd
    }
}

/// The OCI whiteout convention in layer tars, and overlayfs's on disk.
public enum Whiteout {
    /// `.wh.NAME` deletes NAME of the layers below.
    public static let prefix = ".wh."
    /// Names starting with this are metadata, not whiteouts of files.
    public static let metaPrefix = ".wh..wh."
    /// In a directory: hide everything the layers below have in it.
    public static let opaqueMarker = ".wh..wh..opq"
    /// overlayfs's mark of an opaque directory ("y").
    public static let opaqueXattr = "trusted.overlay.opaque"
    /// The same mark where overlay runs with `userxattr` (in a user namespace).
    public static let userOpaqueXattr = "user.overlay.opaque"

    /// True when `path` is an overlayfs whiteout: a 0/0 character device.
    public static func isOverlayWhiteout(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR && st.st_rdev == 0
    }

    /// True when `path` is a directory marked opaque for overlayfs (a layer
    /// unpacked rootless has only the user.* mark).
    public static func isOpaque(_ path: String) -> Bool {
        ExtendedAttribute.get(path, opaqueXattr) == [0x79] || ExtendedAttribute.get(path, userOpaqueXattr) == [0x79]
    }
}

/// Extended attributes of a file (not following a final symlink).
public enum ExtendedAttribute {
    /// The value, or nil when the file has no such attribute (or cannot be read).
    public static func get(_ path: String, _ name: String) -> [UInt8]? {
        var value = [UInt8](repeating: 0, count: 256)
        while true {
            let n = value.withUnsafeMutableBytes { lgetxattr(path, name, $0.baseAddress, $0.count) }
            if n >= 0 { return Array(value[0..<n]) }
            guard errno == ERANGE, value.count < 65536 else { return nil }
            value = [UInt8](repeating: 0, count: value.count * 16)
        }
    }
}

/// Runs a closure on a new thread and waits for it: the thread may change
/// its own filesystem context without touching the caller's.
enum PrivateFSThread {
    private final class Job {
        let work: () -> Void
        init(_ work: @escaping () -> Void) { self.work = work }
    }

    /// Returns 0, or the error number of pthread_create (then `body` did not run).
    static func run(_ body: () -> Void) -> Int32 {
        withoutActuallyEscaping(body) { work in
            let job = Unmanaged.passRetained(Job(work)).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { arg in
                let job = Unmanaged<Job>.fromOpaque(arg!).takeRetainedValue()
                job.work()
                return nil
            }, job)
            if rc != 0 {
                Unmanaged<Job>.fromOpaque(job).release()
                return rc
            }
            pthread_join(thread, nil)
            return 0
        }
    }
}
