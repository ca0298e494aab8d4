#if canImport(Glibc)
import Glibc
#endif
import CShim

/// Small file helpers on raw syscalls: no Foundation on the run path.
public enum Files {
    /// Writes `bytes` to `path` atomically: a temporary file in the same
    /// directory, fsync-free (state is rebuilt from the kernel on doubt), then rename.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(SkiffError) {
        let tmp = path + ".tmp.\(getpid())"
        let fd = try syscall("create \(tmp)") { open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        do {
            try writeAll(fd, bytes, what: tmp)
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        close(fd)
        if rename(tmp, path) != 0 {
            let code = errno
            unlink(tmp)
            throw SkiffError.system("rename \(tmp) to \(path)", errno: code)
        }
    }

    public static func writeAtomically(_ path: String, _ text: String, mode: mode_t = 0o644) throws(SkiffError) {
        try writeAtomically(path, Array(text.utf8), mode: mode)
    }

    /// A new file `PREFIXxxxxxx` (mkstemp), open for writing and
    /// close-on-exec; the caller closes it and renames or removes it.
    public static func makeTemporaryFile(prefix: String) throws(SkiffError) -> (fd: Int32, path: String) {
        var template = Array((prefix + "XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw SkiffError.system("create a temporary file \(prefix)XXXXXX") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return (fd, String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], what: String) throws(SkiffError) {
        let failure: SkiffError? = bytes.withUnsafeBytes { raw in
            do throws(SkiffError) { try writeAll(fd, raw, what: what) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    public static func writeAll(_ fd: Int32, _ raw: UnsafeRawBufferPointer, what: String) throws(SkiffError) {
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw SkiffError.system("write \(what)")
            }
            offset += n
        }
    }

    /// Whole file as bytes, or nil when it does not exist.
    public static func read(_ path: String) throws(SkiffError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw SkiffError.system("open \(path)")
        }
        defer { close(fd) }
        // Sized by fstat (plus one byte, to see the end in the first read);
        // files of /proc say 0 and grow the buffer as they go.
        var st = stat()
        let size = fstat(fd, &st) == 0 ? Int(st.st_size) : 0
        var result = [UInt8](repeating: 0, count: max(size + 1, 4096))
        var filled = 0
        while true {
            if filled == result.count { result.append(contentsOf: repeatElement(0, count: result.count)) }
            let n = result.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SkiffError.system("read \(path)")
            }
            if n == 0 { break }
            filled += n
        }
        result.removeSubrange(filled...)
        return result
    }

    public static func readString(_ path: String) throws(SkiffError) -> String? {
        guard let bytes = try read(path) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// mkdir -p.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SkiffError) {
        if isDirectory(path) { return }
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += "/" + part
            if mkdir(current, mode) != 0 && errno != EEXIST {
                throw SkiffError.system("create directory \(current)")
            }
        }
    }

    /// rm -rf that never crosses into a mounted filesystem below `path`.
    /// Rootless, what the user may not remove (owned by its subordinate
    /// range) is left to `removeOutOfReach`.
    public static func removeTree(_ path: String) throws(SkiffError) {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT { return }
            throw SkiffError.system("stat \(path)")
        }
        do throws(SkiffError) {
            try removeTree(path, device: st.st_dev, mode: st.st_mode)
        } catch {
            guard geteuid() != 0, error.errno == EACCES || error.errno == EPERM,
                  let remove = removeOutOfReach, remove(path), !exists(path) else { throw error }
        }
    }

    /// Rootless with a subordinate range: removes `path` inside a user
    /// namespace where the range is mapped (the spawn helper's
    /// `remove-in-range`); true when it did. Set once at start-up by the
    /// engine and the helper, before any thread could read it.
    nonisolated(unsafe) public static var removeOutOfReach: ((String) -> Bool)? = nil

    private static func removeTree(_ path: String, device: dev_t, mode: mode_t) throws(SkiffError) {
        if (mode & S_IFMT) == S_IFDIR {
            var opened = opendir(path)
            // overlayfs leaves its work/work dir mode 000: root reads it
            // anyway, a rootless owner must first give itself access.
            if opened == nil && errno == EACCES && geteuid() != 0 && chmod(path, 0o700) == 0 { opened = opendir(path) }
            guard let dir = opened else {
                if errno == ENOENT { return }
                throw SkiffError.system("open directory \(path)")
            }
            var children: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name != "." && name != ".." { children.append(name) }
            }
            closedir(dir)
            for name in children {
                let child = path + "/" + name
                var st = stat()
                guard lstat(child, &st) == 0 else { continue }
                if (st.st_mode & S_IFMT) == S_IFDIR && st.st_dev != device {
                    throw SkiffError(.conflict, "refusing to remove \(child): a filesystem is still mounted there")
                }
                try removeTree(child, device: device, mode: st.st_mode)
            }
            if rmdir(path) != 0 && errno != ENOENT {
                throw SkiffError.system("remove directory \(path)")
            }
        } else if unlink(path) != 0 && errno != ENOENT {
            throw SkiffError.system("remove \(path)")
        }
    }

    /// Takes `path` out of sight at once, by renaming it into `trash`, and
    /// deletes it in a background process. On ext4 mounted with online
    /// discard, as on these machines, every rmdir waits milliseconds for the
    /// journal (measured 0.4 to 4 ms each; 17 ms for a container directory
    /// under load), which nobody should wait for after `run --rm`.
    /// Single-threaded callers only (it forks); `sweepTrash` finishes what a
    /// killed remover left.
    public static func removeTreeSoon(_ path: String, trash: String) throws(SkiffError) {
        guard let hidden = try hideForRemoval(path, trash: trash) else { return }
        let child = fork()
        if child == 0 {
            detachFromCaller()
            removeHidden(hidden)
            _exit(0)
        }
        if child < 0 { removeHidden(hidden) }
    }

    /// The first half of `removeTreeSoon`: renames `path` into `trash` and
    /// returns the new path. Nil when there is nothing left to delete (it
    /// was gone, or could not be renamed and was deleted here).
    public static func hideForRemoval(_ path: String, trash: String) throws(SkiffError) -> String? {
        let name = path.split(separator: "/").last.map(String.init) ?? "tree"
        let hidden = trash + "/removing-" + name
        if !isDirectory(trash) { try makeDirectories(trash) }
        guard rename(path, hidden) == 0 else {
            if errno == ENOENT { return nil }
            try removeTree(path)
            return nil
        }
        return hidden
    }

    /// The second half: deletes a hidden tree, holding its lock so that
    /// `sweepTrash` knows somebody is at it.
    public static func removeHidden(_ hidden: String) {
        let fd = open(hidden, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { flock(fd, LOCK_EX) }
        try? removeTree(hidden)
    }

    /// For a background child: hold none of the caller's descriptors open
    /// (a shell waits for its pipes, and a lock held through them would
    /// outlive us), stdio on /dev/null, a session of its own.
    public static func detachFromCaller() {
        // stdio first: closing the rest may take a while (a mount namespace
        // held open unmounts everything in it), and the caller's pipes
        // should see their end at once.
        let null = open("/dev/null", O_RDWR)
        if null >= 0 { dup2(null, 0); dup2(null, 1); dup2(null, 2) }
        skiff_close_from(3)
        setsid()
    }

    /// Deletes what a background remover of `removeTreeSoon` did not finish
    /// (it was killed): entries whose lock nobody holds any more.
    public static func sweepTrash(_ trash: String) {
        for name in list(trash) where name.hasPrefix("removing-") {
            let path = trash + "/" + name
            let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if fd < 0 { continue }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { try? removeTree(path) }
            close(fd)
        }
    }

    /// Names in a directory (no . and ..), sorted; empty when it does not exist.
    public static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

extension StringProtocol {
    /// Without leading and trailing whitespace and newlines.
    public var trimmed: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
