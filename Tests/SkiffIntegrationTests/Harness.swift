import Foundation
import Testing

/// Runs the real `skiff` binary built beside this test bundle, with a state
/// root of its own, so tests can run in parallel without seeing each other.
final class Sandbox: @unchecked Sendable {
    let root: String
    static let binDir: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var dir = (exe as NSString).deletingLastPathComponent
        // The test bundle may live in a subdirectory of the bin dir.
        while !dir.isEmpty && dir != "/" && !FileManager.default.fileExists(atPath: dir + "/skiff") {
            dir = (dir as NSString).deletingLastPathComponent
        }
        return dir
    }()
    static var skiff: String { binDir + "/skiff" }

    init(_ label: String = #function) {
        let safe = label.filter { $0.isLetter || $0.isNumber }.prefix(24)
        root = "/tmp/skiff-test-\(safe)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    struct Result {
        var code: Int32
        var stdout: String
        var stderr: String
        var out: String { stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    @discardableResult
    func run(_ args: [String], stdin: String? = nil, env extra: [String: String] = [:], timeout: Double = 60,
             as user: String? = nil, extraFD: Bool = false, executable: String? = nil) throws -> Result {
        let process = Process()
        if let executable {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = args
        } else if let user {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid", user, "--regid", user, "--clear-groups", Sandbox.skiff] + args
        } else {
            process.executableURL = URL(fileURLWithPath: Sandbox.skiff)
            process.arguments = args
        }
        var env = ProcessInfo.processInfo.environment
        env["SKIFF_ROOT"] = root
        for (k, v) in extra { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        if extraFD {
            // A caller that leaves a descriptor open besides stdio (Process
            // itself closes them, so a shell opens one and execs skiff).
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "exec 7</dev/null; exec \"$0\" \"$@\"", Sandbox.skiff] + args
        }
        try process.run()
        if let stdin {
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        }
        // Read both pipes concurrently so a chatty process cannot block.
        nonisolated(unsafe) var errData = Data()
        let errDone = DispatchSemaphore(value: 0)
        let reader = Thread {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            errDone.signal()
        }
        reader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            Issue.record("skiff \(args.joined(separator: " ")) timed out after \(timeout)s")
        }
        process.waitUntilExit()
        // isExecuting is false until the thread has started: wait for its end.
        errDone.wait()
        return Result(code: process.terminationStatus,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// A shell script run with this sandbox's SKIFF_ROOT; "$0" is skiff.
    @discardableResult
    func shell(_ script: String, timeout: Double = 60) throws -> Result {
        try run(["-c", script, Sandbox.skiff], timeout: timeout, executable: "/bin/sh")
    }

    /// Container IDs in this sandbox's state root.
    var containerIDs: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root + "/containers")) ?? []).filter { $0.count == 64 }
    }

    /// Leaks of one container: cgroup dirs and mounts naming it, its state dir.
    func leaks(of id: String) -> [String] {
        var found: [String] = []
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        found += mounts.split(separator: "\n").filter { $0.contains(id) || $0.contains(root) }.map { "mount: \($0)" }
        for base in ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpu", "/sys/fs/cgroup"] {
            let path = base + "/skiff/" + id
            if FileManager.default.fileExists(atPath: path) { found.append("cgroup: \(path)") }
        }
        if FileManager.default.fileExists(atPath: root + "/containers/" + id) { found.append("state: \(id)") }
        return found
    }

    /// Everything this sandbox may have left: containers, names, mounts.
    func allLeaks() -> [String] {
        var found = containerIDs.flatMap { leaks(of: $0) }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root + "/names")) ?? []
        found += names.map { "name: \($0)" }
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        found += mounts.split(separator: "\n").filter { $0.contains(root) }.map { "mount: \($0)" }
        found += unfinishedRemovals().map { "trash: \($0)" }
        return found
    }

    /// Container directories that `run --rm` moved to tmp/ and whose
    /// background removal has not finished within a few seconds.
    func unfinishedRemovals(waiting seconds: Double = 5) -> [String] {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let left = ((try? FileManager.default.contentsOfDirectory(atPath: root + "/tmp")) ?? [])
                .filter { $0.hasPrefix("removing-") }
            if left.isEmpty || Date() > deadline { return left }
            usleep(20_000)
        }
    }

    /// Force-removes whatever is left, then the root itself.
    func cleanUp() {
        for id in containerIDs { _ = try? run(["rm", "-f", id]) }
        _ = unfinishedRemovals()
        try? FileManager.default.removeItem(atPath: root)
    }

    deinit { cleanUp() }
}

let isRoot = getuid() == 0
let rootReason: Comment = "needs root: real containers need namespaces, mounts and cgroups (CI runs as root)"
