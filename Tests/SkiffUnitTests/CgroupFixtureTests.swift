#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
import SkiffCommon
@testable import SkiffKernel

/// A fake cgroupfs in a unique temp directory that behaves like the kernel
/// where the drivers care: `mkdir` makes the control files appear, `rmdir`
/// takes them away and refuses (EBUSY) while child cgroups exist, v2's
/// cgroup.subtree_control only accepts controllers of cgroup.controllers and a
/// child's cgroup.controllers is its parent's subtree_control. Writes go to
/// existing files only (no O_CREAT), like on cgroupfs. Tests can make a write
/// fail or an rmdir report EBUSY a number of times.
final class CgroupFixture: Sendable {
    enum Layout: Sendable {
        /// v1: hierarchy directory name ("memory", "cpu,cpuacct") → its controllers.
        case v1(hierarchies: [String: [String]], memsw: Bool)
        /// v2: the controllers the root offers.
        case v2(rootControllers: [String])
    }

    struct State {
        var failWrites: [String: Int32] = [:]  // path suffix → errno
        var busy: [String: Int] = [:]          // directory → EBUSY answers left
        var pauses = 0
        var writes: [String] = []              // "path=value"
    }

    let base: String
    let layout: Layout
    private let state = Mutex(State())

    init(_ layout: Layout) throws {
        var template = Array("/tmp/cgroup-fixture-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in
            mkdtemp(buffer.baseAddress!).map { String(cString: $0) }
        }
        guard let made else { throw SkiffError.system("mkdtemp") }
        base = made
        self.layout = layout
        switch layout {
        case .v1(let hierarchies, _):
            for (dir, _) in hierarchies {
                try Files.makeDirectories(base + "/" + dir)
                try Files.writeAtomically(base + "/" + dir + "/cgroup.procs", "")
            }
        case .v2(let controllers):
            try Files.writeAtomically(base + "/cgroup.controllers", controllers.joined(separator: " ") + "\n")
            try Files.writeAtomically(base + "/cgroup.subtree_control", "\n")
            try Files.writeAtomically(base + "/cgroup.procs", "")
        }
    }

    deinit { try? Files.removeTree(base) }

    static func v1(memsw: Bool = true, cpuDir: String = "cpu") throws -> CgroupFixture {
        let cpuControllers = cpuDir.split(separator: ",").map(String.init)
        return try CgroupFixture(.v1(hierarchies: ["memory": ["memory"], "pids": ["pids"], cpuDir: cpuControllers],
                                     memsw: memsw))
    }

    static func v2(_ controllers: [String] = ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"]) throws -> CgroupFixture {
        try CgroupFixture(.v2(rootControllers: controllers))
    }

    /// controller → mountpoint, as detect() would find them.
    var mountpoints: [String: String] {
        guard case .v1(let hierarchies, _) = layout else { return [:] }
        var result: [String: String] = [:]
        for (dir, controllers) in hierarchies {
            for controller in controllers { result[controller] = base + "/" + dir }
        }
        return result
    }

    func v1Driver() -> CgroupV1Driver { CgroupV1Driver(mountpoints: mountpoints, fs: fs) }
    func v2Driver() -> CgroupV2Driver { CgroupV2Driver(root: base, fs: fs) }

    func failWrite(_ pathSuffix: String, errno code: Int32) { state.withLock { $0.failWrites[pathSuffix] = code } }
    func makeBusy(_ dir: String, times: Int) { state.withLock { $0.busy[dir] = times } }
    var pauses: Int { state.withLock { $0.pauses } }
    var writes: [String] { state.withLock { $0.writes } }

    func read(_ path: String) -> String? {
        (try? Files.readString(path))??.split(separator: "\n").joined(separator: "\n")
    }

    /// Every directory below the base whose path (below the base) contains "skiff".
    func skiffDirectories() -> [String] {
        var found: [String] = []
        func walk(_ dir: String) {
            for name in Files.list(dir) where Files.isDirectory(dir + "/" + name) {
                let path = dir + "/" + name
                if path.dropFirst(base.count).contains("skiff") { found.append(path) }
                walk(path)
            }
        }
        walk(base)
        return found
    }

    var fs: CgroupFS {
        var fs = CgroupFS(
            makeDirectory: { [self] path in makeDirectory(path) },
            removeDirectory: { [self] path in removeDirectory(path) },
            writeFile: { [self] path, value in writeFile(path, value) },
            readFile: { path in (try? Files.readString(path)) ?? nil },
            fileExists: { path in Files.exists(path) },
            pause: { [self] _ in state.withLock { $0.pauses += 1 } }
        )
        // A fixture directory is no cgroup: record what would be attached.
        fs.attachDeviceRules = { [self] dir, rules in
            state.withLock { $0.writes.append("\(dir)=device-program(\(rules.count) rules)") }
            return nil
        }
        return fs
    }

    // MARK: kernel-like behaviour

    private func controlFiles(for dir: String) -> [String: String] {
        var files = ["cgroup.procs": ""]
        switch layout {
        case .v1(let hierarchies, let memsw):
            guard let (_, controllers) = hierarchies.first(where: { dir.hasPrefix(base + "/" + $0.key + "/") }) else { return files }
            files["tasks"] = ""
            for controller in controllers {
                switch controller {
                case "memory":
                    files["memory.limit_in_bytes"] = "9223372036854771712\n"
                    files["memory.usage_in_bytes"] = "0\n"
                    files["memory.oom_control"] = "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"
                    if memsw { files["memory.memsw.limit_in_bytes"] = "9223372036854771712\n" }
                case "pids":
                    files["pids.max"] = "max\n"
                    files["pids.current"] = "0\n"
                case "cpu":
                    files["cpu.cfs_period_us"] = "100000\n"
                    files["cpu.cfs_quota_us"] = "-1\n"
                case "cpuacct":
                    files["cpuacct.usage"] = "0\n"
                case "devices":
                    files["devices.allow"] = ""
                    files["devices.deny"] = ""
                    files["devices.list"] = "a *:* rwm\n"
                default: break
                }
            }
        case .v2:
            let parent = String(dir[..<dir.lastIndex(of: "/")!])
            let offered = read(parent + "/cgroup.subtree_control") ?? ""
            files["cgroup.controllers"] = offered + "\n"
            files["cgroup.subtree_control"] = "\n"
            files["cgroup.events"] = "populated 0\nfrozen 0\n"
            let controllers = offered.split(separator: " ")
            if controllers.contains("memory") {
                files["memory.max"] = "max\n"
                files["memory.swap.max"] = "max\n"
                files["memory.current"] = "0\n"
                files["memory.events"] = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"
            }
            if controllers.contains("pids") {
                files["pids.max"] = "max\n"
                files["pids.current"] = "0\n"
            }
            if controllers.contains("cpu") {
                files["cpu.max"] = "max 100000\n"
                files["cpu.weight"] = "100\n"
            }
        }
        return files
    }

    private func makeDirectory(_ path: String) -> Int32 {
        if Glibc.mkdir(path, 0o755) != 0 { return errno }
        for (name, content) in controlFiles(for: path) {
            try? Files.writeAtomically(path + "/" + name, content)
        }
        return 0
    }

    private func removeDirectory(_ path: String) -> Int32 {
        let busy = state.withLock { state -> Bool in
            guard let left = state.busy[path], left > 0 else { return false }
            state.busy[path] = left - 1
            return true
        }
        if busy { return EBUSY }
        var st = stat()
        if lstat(path, &st) != 0 { return errno }
        if (st.st_mode & S_IFMT) != S_IFDIR { return ENOTDIR }
        let names = Files.list(path)
        if names.contains(where: { Files.isDirectory(path + "/" + $0) }) { return EBUSY }
        for name in names { unlink(path + "/" + name) }
        return Glibc.rmdir(path) == 0 ? 0 : errno
    }

    private func writeFile(_ path: String, _ value: String) -> Int32 {
        let failure = state.withLock { state -> Int32? in
            state.writes.append("\(path)=\(value)")
            return state.failWrites.first(where: { path.hasSuffix($0.key) })?.value
        }
        if let failure { return failure }
        if path.hasSuffix("/cgroup.subtree_control") {
            let dir = String(path.dropLast("/cgroup.subtree_control".count))
            let offered = (read(dir + "/cgroup.controllers") ?? "").split(separator: " ").map(String.init)
            var enabled = (read(path) ?? "").split(separator: " ").map(String.init)
            for token in value.split(separator: " ") {
                let name = String(token.dropFirst())
                guard offered.contains(name) else { return ENOENT }
                if token.hasPrefix("+") { if !enabled.contains(name) { enabled.append(name) } }
                else if token.hasPrefix("-") { enabled.removeAll { $0 == name } }
                else { return EINVAL }
            }
            let ordered = offered.filter { enabled.contains($0) }
            return CgroupFS.writeWhole(path, ordered.joined(separator: " ") + "\n")
        }
        return CgroupFS.writeWhole(path, value)
    }
}

@Suite("Cgroup fixture")
struct CgroupFixtureTests {
    @Test("mkdir in a v1 hierarchy makes that controller's files appear, rmdir takes them away")
    func v1MkdirPopulates() throws {
        let fixture = try CgroupFixture.v1()
        let fs = fixture.fs
        let dir = fixture.base + "/pids/x"
        #expect(fs.makeDirectory(dir) == 0)
        #expect(fixture.read(dir + "/pids.max") == "max")
        #expect(!Files.exists(dir + "/memory.limit_in_bytes"))
        #expect(fs.writeFile(dir + "/no-such-file", "1") == ENOENT)
        #expect(fs.removeDirectory(dir) == 0)
        #expect(!Files.exists(dir))
    }

    @Test("v2 children offer what the parent's subtree_control enables")
    func v2SubtreeControl() throws {
        let fixture = try CgroupFixture.v2(["cpu", "memory"])
        let fs = fixture.fs
        #expect(fs.writeFile(fixture.base + "/cgroup.subtree_control", "+pids") == ENOENT)
        #expect(fs.writeFile(fixture.base + "/cgroup.subtree_control", "+memory") == 0)
        #expect(fs.makeDirectory(fixture.base + "/a") == 0)
        #expect(fixture.read(fixture.base + "/a/cgroup.controllers") == "memory")
        #expect(Files.exists(fixture.base + "/a/memory.max"))
        #expect(!Files.exists(fixture.base + "/a/cpu.max"))
        #expect(fs.makeDirectory(fixture.base + "/a/b") == 0)
        #expect(fs.removeDirectory(fixture.base + "/a") == EBUSY)
    }
}
