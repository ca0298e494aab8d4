import CArchive
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// An overlayfs upper directory as an OCI layer (`docker commit`).
///
/// The directory is walked without following symlinks; directories, regular
/// files, symlinks, hard links (by inode), fifos and devices keep their mode,
/// owner and mtime. Overlay's marks become the OCI ones: a whiteout (a 0/0
/// character device NAME) is an empty regular file `.wh.NAME` in the same
/// directory, and a directory with `trusted.overlay.opaque` = "y" gets an
/// entry `DIR/.wh..wh..opq`. Overlay's own xattrs (`trusted.overlay.*`,
/// `user.overlay.*`) are not copied; other xattrs are. Sockets are skipped.
public enum LayerFromDirectory {
    /// The entries of the layer (unsorted; `LayerWriter` sorts them). With
    /// `streaming`, regular files are not read: each entry names its file
    /// as `source` for the writer to stream (the directory must stay as it
    /// is until then).
    public static func entries(of directory: String, streaming: Bool = false) throws(SkiffError) -> [ArchiveEntry] {
        var entries: [ArchiveEntry] = []
        var firstPathOfInode: [InodeKey: String] = [:]

        func walk(_ relative: String) throws(SkiffError) {
            let base = relative.isEmpty ? directory : directory + "/" + relative
            for name in Files.list(base) {
                let path = relative.isEmpty ? name : relative + "/" + name
                let full = directory + "/" + path
                var st = stat()
                guard lstat(full, &st) == 0 else { throw SkiffError.system("lstat \(full)") }
                let type = st.st_mode & S_IFMT
                let perm = UInt32(st.st_mode & 0o7777)
                let (uid, gid, mtime) = (UInt32(st.st_uid), UInt32(st.st_gid), Int64(st.st_mtim.tv_sec))
                func entry(_ kind: ArchiveEntry.Kind, _ entryPath: String = path, mode: UInt32 = perm,
                           contents: [UInt8] = [], xattrs: [String: [UInt8]] = [:]) -> ArchiveEntry {
                    ArchiveEntry(path: entryPath, kind: kind, mode: mode, uid: uid, gid: gid, mtime: mtime,
                                 contents: contents, xattrs: xattrs)
                }
                switch type {
                case S_IFCHR where st.st_rdev == 0:
                    let whiteout = relative.isEmpty ? Whiteout.prefix + name : relative + "/" + Whiteout.prefix + name
                    entries.append(entry(.regular, whiteout, mode: 0o600))
                case S_IFDIR:
                    let attributes = try xattrs(of: full)
                    entries.append(entry(.directory, xattrs: attributes.kept))
                    if attributes.opaque {
                        entries.append(entry(.regular, path + "/" + Whiteout.opaqueMarker, mode: perm & 0o777))
                    }
                    try walk(path)
                case S_IFREG:
                    let key = InodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
                    if st.st_nlink > 1, let target = firstPathOfInode[key] {
                        entries.append(entry(.hardlink(target: target)))
                        continue
                    }
                    if st.st_nlink > 1 { firstPathOfInode[key] = path }
                    if streaming {
                        var file = entry(.regular, xattrs: try xattrs(of: full).kept)
                        file.size = Int64(st.st_size)
                        file.source = full
                        entries.append(file)
                        continue
                    }
                    guard let bytes = try Files.read(full) else {
                        throw SkiffError(.notFound, "\(full) disappeared while it was read")
                    }
                    entries.append(entry(.regular, contents: bytes, xattrs: try xattrs(of: full).kept))
                case S_IFLNK:
                    entries.append(entry(.symlink(target: try readLink(full)), xattrs: try xattrs(of: full).kept))
                case S_IFCHR:
                    entries.append(entry(.characterDevice(major: major(st.st_rdev), minor: minor(st.st_rdev))))
                case S_IFBLK:
                    entries.append(entry(.blockDevice(major: major(st.st_rdev), minor: minor(st.st_rdev))))
                case S_IFIFO:
                    entries.append(entry(.fifo))
                default:
                    continue  // sockets: Docker does not archive them either
                }
            }
        }
        try walk("")
        return entries
    }

    /// The directory as a gzip tar layer, with its digest and diff_id.
    public static func layer(of directory: String) throws(SkiffError) -> LayerBlob {
        guard Files.isDirectory(directory) else {
            throw SkiffError(.notFound, "\(directory) is not a directory")
        }
        return try LayerWriter.write(try entries(of: directory))
    }

    private struct InodeKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    private static func major(_ dev: dev_t) -> UInt32 {
        UInt32(((dev >> 8) & 0xfff) | ((dev >> 32) & 0xffff_f000))
    }

    private static func minor(_ dev: dev_t) -> UInt32 {
        UInt32((dev & 0xff) | ((dev >> 12) & 0xffff_ff00))
    }

    private static func readLink(_ path: String) throws(SkiffError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { throw SkiffError.system("readlink \(path)") }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func isOverlayInternal(_ name: String) -> Bool {
        name.hasPrefix("trusted.overlay.") || name.hasPrefix("user.overlay.")
    }

    /// The xattrs to keep, and whether overlay marks the directory opaque.
    private static func xattrs(of path: String) throws(SkiffError) -> (kept: [String: [UInt8]], opaque: Bool) {
        let size = llistxattr(path, nil, 0)
        if size < 0 {
            if errno == ENOTSUP || errno == EPERM { return ([:], false) }
            throw SkiffError.system("list the xattrs of \(path)")
        }
        guard size > 0 else { return ([:], false) }
        var list = [CChar](repeating: 0, count: size)
        let n = llistxattr(path, &list, size)
        guard n >= 0 else { throw SkiffError.system("list the xattrs of \(path)") }
        var kept: [String: [UInt8]] = [:]
        var opaque = false
        for raw in list[0..<n].split(separator: 0) {
            let name = String(decoding: raw.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let valueSize = lgetxattr(path, name, nil, 0)
            guard valueSize >= 0 else { continue }
            var value = [UInt8](repeating: 0, count: valueSize)
            let got = valueSize == 0 ? 0 : lgetxattr(path, name, &value, valueSize)
            guard got >= 0 else { continue }
            value = Array(value[0..<got])
            if name == Whiteout.opaqueXattr || name == Whiteout.userOpaqueXattr {
                if value == Array("y".utf8) { opaque = true }
            } else if !isOverlayInternal(name) {
                kept[name] = value
            }
        }
        return (kept, opaque)
    }
}
