#if canImport(Glibc)
import Glibc
#endif
import SkiffCommon

/// The few filesystem calls the cgroup drivers make, as one seam: the real
/// cgroupfs by default, a fixture directory in tests. Calls return 0 or an
/// errno value so that each driver decides which errors it tolerates.
///
/// On a real cgroupfs `mkdir` makes the control files appear by themselves and
/// `rmdir` removes a directory that still holds them; a fixture must do the same.
public struct CgroupFS: Sendable {
    /// mkdir(2) with mode 0755: 0 or errno.
    public var makeDirectory: @Sendable (_ path: String) -> Int32
    /// rmdir(2): 0 or errno.
    public var removeDirectory: @Sendable (_ path: String) -> Int32
    /// Opens an existing file O_WRONLY|O_TRUNC and writes `value` in one write(2): 0 or errno.
    public var writeFile: @Sendable (_ path: String, _ value: String) -> Int32
    /// Opens an existing file O_WRONLY and writes each value with a write(2)
    /// of its own (device rules: the kernel takes one per write): 0 or the
    /// first errno. Nil: `writeFile` once per value.
    public var writeEach: (@Sendable (_ path: String, _ values: [String]) -> Int32)? = nil
    /// The whole file, or nil when it cannot be read.
    public var readFile: @Sendable (_ path: String) -> String?
    /// Whether a file exists.
    public var fileExists: @Sendable (_ path: String) -> Bool
    /// Sleeps between EBUSY retries.
    public var pause: @Sendable (_ microseconds: UInt32) -> Void
    /// cgroup v2: attaches a device allow-list program to a directory (`DeviceProgram`).
    public var attachDeviceRules: @Sendable (_ directory: String, _ rules: [String]) -> SkiffError? = { dir, rules in
        do throws(SkiffError) { try DeviceProgram.attach(to: dir, rules: rules); return nil } catch { return error }
    }
    /// The owner of a file or directory (not following a symlink), nil when
    /// it does not exist: what tells a subtree delegated to a user (`CgroupDelegation`).
    public var owner: @Sendable (_ path: String) -> UInt32? = { path in
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_uid : nil
    }

    public init(
        makeDirectory: @escaping @Sendable (String) -> Int32,
        removeDirectory: @escaping @Sendable (String) -> Int32,
        writeFile: @escaping @Sendable (String, String) -> Int32,
        readFile: @escaping @Sendable (String) -> String?,
        fileExists: @escaping @Sendable (String) -> Bool,
        pause: @escaping @Sendable (UInt32) -> Void
    ) {
        self.makeDirectory = makeDirectory
        self.removeDirectory = removeDirectory
        self.writeFile = writeFile
        self.readFile = readFile
        self.fileExists = fileExists
        self.pause = pause
    }

    /// The kernel's cgroupfs through plain syscalls.
    public static let real: CgroupFS = {
        var fs = CgroupFS(
            makeDirectory: { path in Glibc.mkdir(path, 0o755) == 0 ? 0 : errno },
            removeDirectory: { path in Glibc.rmdir(path) == 0 ? 0 : errno },
            writeFile: { path, value in CgroupFS.writeWhole(path, value) },
            readFile: { path in (try? Files.readString(path)) ?? nil },
            fileExists: { path in Glibc.access(path, F_OK) == 0 },
            pause: { microseconds in _ = usleep(microseconds) }
        )
        // One open for the eleven device rules instead of eleven.
        fs.writeEach = { path, values in CgroupFS.writeWhole(path, values) }
        return fs
    }()

    /// Each value in a write(2) of its own, through `writeEach` or `writeFile`.
    public func write(each values: [String], to path: String) -> Int32 {
        if let writeEach { return writeEach(path, values) }
        for value in values {
            let code = writeFile(path, value)
            if code != 0 { return code }
        }
        return 0
    }

    /// open(O_WRONLY|O_TRUNC) and a single write: cgroup files take one value per write.
    public static func writeWhole(_ path: String, _ value: String) -> Int32 {
        writeWhole(path, [value])
    }

    /// The same with one open for several values, each in a write(2) of its own.
    static func writeWhole(_ path: String, _ values: [String]) -> Int32 {
        var fd: Int32
        repeat { fd = Glibc.open(path, O_WRONLY | O_TRUNC | O_CLOEXEC) } while fd < 0 && errno == EINTR
        if fd < 0 { return errno }
        defer { Glibc.close(fd) }
        for value in values {
            let bytes = Array(value.utf8)
            while true {
                let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if n == bytes.count { break }
                if n < 0 && errno == EINTR { continue }
                return n < 0 ? errno : EIO
            }
        }
        return 0
    }
}

// MARK: - Helpers shared by the v1 and v2 drivers

enum CgroupPaths {
    /// Checks a cgroup name like "skiff/<id>": relative, no empty, "." or ".." parts.
    static func validate(_ name: String) throws(SkiffError) {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        let ok = !name.isEmpty && !name.hasPrefix("/")
            && parts.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
            && !name.contains(where: { $0 == "\n" || $0 == "\0" })
        if !ok {
            throw SkiffError(.usage, "invalid cgroup name \"\(name)\": expected a relative path like skiff/<id>")
        }
    }

    static func join(_ base: String, _ name: String) -> String {
        base.hasSuffix("/") ? base + name : base + "/" + name
    }

    /// The directories above `name` inside `base`, deepest first:
    /// ("/m", "skiff/a/b") gives ["/m/skiff/a", "/m/skiff"].
    static func parents(base: String, name: String) -> [String] {
        let parts = name.split(separator: "/")
        guard parts.count > 1 else { return [] }
        var result: [String] = []
        var current = base.hasSuffix("/") ? String(base.dropLast()) : base
        for part in parts.dropLast() {
            current += "/" + part
            result.append(current)
        }
        return result.reversed()
    }

    /// The parents of `name` that go when they are empty: only the shared
    /// `skiff/` of a default name. A --cgroup-parent belongs to whoever
    /// made it (one that `create` made is rolled back through its list).
    static func sharedParents(base: String, name: String) -> [String] {
        CgroupParent.isShared(name) ? parents(base: base, name: name) : []
    }

    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
}

/// Where a container's cgroups go: skiff/ID in every hierarchy, or
/// PARENT/ID with Docker's --cgroup-parent.
public enum CgroupParent {
    /// The default parent, shared by every container and removed once empty.
    public static let shared = "skiff"

    /// Whether a container's cgroup name is skiff/ID, under the shared parent.
    public static func isShared(_ cgroupName: String) -> Bool {
        let parts = cgroupName.split(separator: "/")
        return parts.count == 2 && parts[0] == shared
    }

    /// A --cgroup-parent value as a relative path: "/a/b/" and "a/b" name
    /// the same place (under each hierarchy's root), as with Docker's
    /// cgroupfs driver. No empty, "." or ".." parts.
    public static func normalize(_ text: String) throws(SkiffError) -> String {
        let parts = text.split(separator: "/", omittingEmptySubsequences: true)
        let name = parts.joined(separator: "/")
        let ok = !parts.isEmpty && parts.allSatisfy { $0 != "." && $0 != ".." }
            && !text.contains(where: { $0 == "\n" || $0 == "\0" || $0 == "," })
        guard ok else {
            throw SkiffError(.usage, "invalid --cgroup-parent \"\(text)\": give a path of cgroup names like skiff-demo or /lab/students")
        }
        return name
    }
}

enum CgroupOps {
    /// Writes one limit, naming file and value on failure:
    /// "write 64 to /sys/fs/cgroup/pids/skiff/ID/pids.max: Invalid argument".
    static func write(_ value: String, to path: String, fs: CgroupFS) throws(SkiffError) {
        let code = fs.writeFile(path, value)
        if code != 0 {
            throw SkiffError.system("write \(value) to \(path)", errno: code)
        }
    }

    /// Trimmed file content, nil when it cannot be read.
    static func read(_ path: String, fs: CgroupFS) -> String? {
        guard let text = fs.readFile(path) else { return nil }
        var slice = Substring(text)
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        return String(slice)
    }

    /// Creates `base/name` level by level. `prepare(dir)` runs in each existing
    /// level before its child is made (v2 enables controllers there). Returns the
    /// directories this call created, parents first. An existing leaf is reused.
    /// When a concurrent `remove` deletes an empty parent between two steps
    /// (ENOENT), the walk starts again.
    static func makeTree(
        base: String, name: String, fs: CgroupFS,
        prepare: (String) throws(SkiffError) -> Void
    ) throws(SkiffError) -> [String] {
        let parts = name.split(separator: "/").map(String.init)
        var created: [String] = []
        var attempt = 0
        walk: while true {
            attempt += 1
            var dir = base.hasSuffix("/") ? String(base.dropLast()) : base
            for part in parts {
                do {
                    try prepare(dir)
                } catch {
                    if error.errno == ENOENT && attempt < 5 && dir != base { continue walk }
                    throw error
                }
                let child = dir + "/" + part
                let code = fs.makeDirectory(child)
                switch code {
                case 0: created.append(child)
                case EEXIST: break
                case ENOENT where attempt < 5 && dir != base: continue walk
                default:
                    throw SkiffError.system("create cgroup directory \(child)", errno: code)
                }
                dir = child
            }
            return created
        }
    }

    /// Removes `leaves`, retrying EBUSY for about a second in all (a dying pid
    /// namespace's zombies take a moment to leave), tolerating ENOENT; then
    /// `parents` (deepest first) when empty, ignoring EBUSY/ENOTEMPTY/ENOENT
    /// because other containers may use them. Throws the first hard failure
    /// after trying everything.
    static func removeAll(leaves: [String], parents: [String], fs: CgroupFS) throws(SkiffError) {
        var pending = leaves
        var failure: SkiffError?
        var rounds = 0
        while !pending.isEmpty {
            var busy: [String] = []
            for dir in pending {
                let code = fs.removeDirectory(dir)
                switch code {
                case 0, ENOENT: break
                case EBUSY: busy.append(dir)
                default:
                    if failure == nil { failure = SkiffError.system("remove cgroup \(dir)", errno: code) }
                }
            }
            pending = busy
            if pending.isEmpty { break }
            rounds += 1
            if rounds >= 100 {
                if failure == nil {
                    let dir = pending[0]
                    let pids = (read(dir + "/cgroup.procs", fs: fs) ?? "")
                        .split(whereSeparator: { $0 == "\n" }).joined(separator: ", ")
                    let still = pids.isEmpty ? "" : " (processes still inside: \(pids))"
                    failure = SkiffError(.system,
                        "remove cgroup \(dir): \(CgroupPaths.errorText(EBUSY))\(still)", errno: EBUSY)
                }
                break
            }
            fs.pause(10_000)
        }
        for dir in parents {
            let code = fs.removeDirectory(dir)
            switch code {
            case 0, ENOENT, EBUSY, ENOTEMPTY, EEXIST: break
            default:
                if failure == nil { failure = SkiffError.system("remove cgroup \(dir)", errno: code) }
            }
        }
        if let failure { throw failure }
    }

    /// Best-effort undo of a failed create: created directories deepest first,
    /// then the empty parents.
    static func rollback(created: [String], parents: [String], fs: CgroupFS) {
        for dir in created.reversed() { _ = fs.removeDirectory(dir) }
        for dir in parents { _ = fs.removeDirectory(dir) }
    }

    /// The number after `key` in a "key value" lines file (memory.events, memory.oom_control).
    static func keyedValue(_ key: String, in text: String) -> Int? {
        for line in text.split(whereSeparator: { $0 == "\n" }) {
            let fields = line.split(separator: " ")
            if fields.count == 2 && fields[0] == key { return Int(fields[1]) }
        }
        return nil
    }
}
