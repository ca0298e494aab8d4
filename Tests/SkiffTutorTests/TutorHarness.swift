import Foundation
import Testing
import SkiffCommon
import SkiffEngine
@testable import SkiffTutor

let isRoot = getuid() == 0
let rootReason: Comment = "needs root: real containers need namespaces, mounts and cgroups (CI runs as root)"

/// The built `skiff` beside this test bundle.
let skiffBinary: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    var dir = (exe as NSString).deletingLastPathComponent
    while !dir.isEmpty && dir != "/" && !FileManager.default.fileExists(atPath: dir + "/skiff") {
        dir = (dir as NSString).deletingLastPathComponent
    }
    return dir + "/skiff"
}()

/// Its own state root, HOME and data dir; removes every container it made.
final class TutorSandbox: @unchecked Sendable {
    let base: String
    var root: String { base + "/state" }
    var home: String { base + "/home" }
    lazy var engine = Engine(root: StateRoot(path: root))

    init(_ label: String = #function) {
        let safe = label.filter { $0.isLetter || $0.isNumber }.prefix(20)
        base = "/tmp/skiff-tutor-\(safe)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["SKIFF_ROOT"] = root
        env["HOME"] = home
        env["XDG_DATA_HOME"] = home + "/.local/share"
        env["SKIFF_LESSONS"] = repoLessons
        env.removeValue(forKey: "SUDO_USER")
        return env
    }

    /// Runs the skiff binary; returns exit code and combined output.
    func skiff(_ args: [String], timeout: Double = 600) throws -> (code: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: skiffBinary)
        process.arguments = args
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL); Issue.record("skiff \(args) timed out") }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    var containerIDs: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root + "/containers")) ?? []).filter { $0.count == 64 }
    }

    /// cgroup dirs and mounts this sandbox's containers left behind.
    func leaks() -> [String] {
        var found = containerIDs.map { "container: \($0)" }
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        found += mounts.split(separator: "\n").filter { $0.contains(base) }.map { "mount: \($0)" }
        return found
    }

    deinit {
        for id in containerIDs { try? engine.remove(id, force: true) }
        try? FileManager.default.removeItem(atPath: base)
    }
}

/// A check of `kind` with the fields `set` gives it.
func check(_ kind: Check.Kind, _ set: (inout Check) -> Void) -> Check {
    var c = Check(kind: kind)
    set(&c)
    return c
}
