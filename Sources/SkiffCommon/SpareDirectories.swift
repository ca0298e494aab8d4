#if canImport(Glibc)
import Glibc
#endif
import CShim

/// Container directories kept for reuse. Making a container's directory
/// costs seven new inodes (the directory, upper, work, merged, hostname,
/// hosts, resolv.conf), and on an ext4 without a journal, as on these
/// machines, every inode allocation walks past the inodes freed in the last
/// 30 seconds (`recently_deleted`): with a run every few milliseconds that
/// walk dominated making the state (about 1.6 ms of the CLI's path). An
/// `--rm` container's directory, once its container is gone, is emptied
/// back to that skeleton and renamed to `ROOT/tmp/spare-*`; the next
/// `create` renames one into place instead of making a new one.
///
/// Three more files are kept under other names, to be written over and
/// renamed into place rather than made anew (each new inode also becomes
/// a freed one that later allocations walk past): config.json, the pid
/// file, and the name file (`names/NAME`, moved into the directory when
/// the container is removed).

public enum SpareDirectories {
    /// What a spare keeps: the mount points and the files `create` writes
    /// again in place.
    public static let kept = ["upper", "work", "merged", "hostname", "hosts", "resolv.conf"]
    /// A kept file's name in a spare, by its name in a container's directory.
    public static let reusedFiles = ["config.json": "config.json.spare", "pid": "pid.spare"]
    /// The container's `names/NAME`, once moved into its directory.
    public static let nameFile = "name.spare"
    /// At most this many wait in the pool; more are deleted.
    public static let limit = 4
    static let prefix = "spare-"

    /// Renames a spare to `directory`; false when there is none (or another
    /// process took each first).
    public static func take(trash: String, as directory: String) -> Bool {
        for name in Files.list(trash) where name.hasPrefix(prefix) {
            if rename(trash + "/" + name, directory) == 0 { return true }
        }
        return false
    }

    /// Turns `hidden` (a removed container's directory, already out of
    /// sight in the trash) into a spare when it can be one, else deletes it.
    /// Only a directory we own throughout, with no extended attribute on its
    /// upper dir but the overlay's own, is kept: a --userns container's upper
    /// and work belong to its mapped root.
    public static func recycleOrRemove(_ hidden: String, trash: String) {
        guard Files.list(trash).filter({ $0.hasPrefix(prefix) }).count < limit, reusable(hidden) else {
            Files.removeHidden(hidden)
            return
        }
        let fd = open(hidden, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { flock(fd, LOCK_EX) }
        defer { if fd >= 0 { close(fd) } }
        do {
            for (name, spare) in reusedFiles where isPlainFile(hidden + "/" + name) {
                if rename(hidden + "/" + name, hidden + "/" + spare) != 0 { unlink(hidden + "/" + name) }
            }
            let keep = kept + Array(reusedFiles.values) + [nameFile]
            for name in Files.list(hidden) where !keep.contains(name) || (!kept.contains(name) && !isPlainFile(hidden + "/" + name)) {
                try Files.removeTree(hidden + "/" + name)
            }
            // The overlay's upper and work dirs must be empty to be mounted
            // again (a volatile mount, as older builds made, leaves
            // work/work/incompat/volatile, which makes the next one refuse).
            for dir in ["upper", "work"] {
                for name in Files.list(hidden + "/" + dir) { try Files.removeTree(hidden + "/" + dir + "/" + name) }
            }
        } catch {
            try? Files.removeTree(hidden)
            return
        }
        if rename(hidden, trash + "/" + prefix + randomHex()) != 0 { try? Files.removeTree(hidden) }
    }

    /// A regular file of ours with one link (not a symlink, not another
    /// container's hard link): safe to write over.
    static func isPlainFile(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && st.st_nlink == 1 && st.st_uid == geteuid()
    }

    /// What `writeThrough` did.
    public enum Reuse { case written, unavailable, pathExists }

    /// Writes `bytes` to `path` atomically through the spare file `reused`
    /// (truncated, written, renamed to `path`): no new inode. `.unavailable`
    /// when there is no such file or writing it failed: the caller writes
    /// the usual way. Without `replacing`, an existing `path` is left alone
    /// (`.pathExists`): how a name is reserved.
    public static func writeThrough(_ reused: String, to path: String, _ bytes: [UInt8],
                                    replacing: Bool = true) -> Reuse {
        guard isPlainFile(reused) else { return .unavailable }
        // Not O_TRUNC: truncating frees the file's block and writing takes
        // a new one; written over from the start and cut to length, the
        // file keeps its block when the new content fits it (it does: a
        // container's config or pid is much the same size each time).
        let fd = open(reused, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { return .unavailable }
        let written = bytes.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = pwrite(fd, raw.baseAddress! + offset, raw.count - offset, off_t(offset))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                offset += n
            }
            return ftruncate(fd, off_t(raw.count)) == 0
        }
        close(fd)
        guard written else { return .unavailable }
        if (replacing ? rename(reused, path) : skiff_rename_noreplace(reused, path)) == 0 { return .written }
        return errno == EEXIST ? .pathExists : .unavailable
    }

    /// The overlay's own marks on the upper dir (trusted.overlay.uuid,
    /// written at every mount with uuid=on) go first; anything else there
    /// means the directory is not plainly ours.
    static func reusable(_ hidden: String) -> Bool {
        if skiff_remove_overlay_xattrs(hidden + "/upper") != 0 { return false }
        let me = geteuid()
        for name in kept {
            var st = stat()
            guard lstat(hidden + "/" + name, &st) == 0, st.st_uid == me else { return false }
            let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
            if ["upper", "work", "merged"].contains(name) != isDirectory { return false }
            if isDirectory && (st.st_mode & 0o7777) != 0o755 { return false }
        }
        return skiff_xattr_names_size(hidden + "/upper") == 0
    }

    static func randomHex() -> String {
        var bytes = [UInt8](repeating: 0, count: 8)
        _ = bytes.withUnsafeMutableBytes { skiff_random_bytes($0.baseAddress, 8) }
        return bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
