import CSeccomp
import Crypto
import Glibc
import SkiffCommon

/// Turns a profile, chosen for one container, into the classic BPF program
/// the kernel runs on every syscall. Compiled here (in the engine, with
/// libseccomp); the spawn helper only loads the bytes, last, before exec.
public enum SeccompCompiler {
    /// The filter's canonical text: everything the BPF depends on, one line
    /// each. Two containers with the same text get the same program.
    public static func canonicalText(_ profile: SeccompProfile, for target: SeccompTarget) -> String {
        var lines = ["layout binary-tree", "default \(profile.defaultAction)", "arch " + profile.architectures(for: target).joined(separator: " ")]
        for rule in profile.rules(for: target) {
            let args = rule.arguments.map { "a\($0.index) \($0.op.rawValue) \($0.value) \($0.valueTwo)" }
            lines.append(([rule.syscall, rule.action.description] + args).joined(separator: " "))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The BPF program (an array of 8-byte sock_filter instructions).
    public static func compile(_ profile: SeccompProfile, for target: SeccompTarget) throws(SkiffError) -> [UInt8] {
        guard let ctx = seccomp_init(profile.defaultAction.libseccompValue) else {
            throw SkiffError(.system, "seccomp: libseccomp could not start a filter")
        }
        defer { seccomp_release(ctx) }
        // A binary search over syscall numbers instead of a linear list: the
        // same decisions, but the kernel's load (which walks the program for
        // every syscall number of every architecture to fill its allow
        // cache) takes 0.2 ms instead of 0.7 for Docker's default profile.
        _ = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)
        for name in profile.architectures(for: target) {
            let token = seccomp_arch_resolve_name(name)
            // An architecture this libseccomp does not know cannot be filtered; skip it as Docker does.
            if token == 0 { continue }
            let rc = seccomp_arch_add(ctx, token)
            if rc != 0 && rc != -EEXIST { throw SkiffError(.system, "seccomp: add architecture \(name): \(errnoText(-rc))") }
        }
        for rule in profile.rules(for: target) where rule.action != profile.defaultAction {
            let number = seccomp_syscall_resolve_name(rule.syscall)
            if number == __NR_SCMP_ERROR { continue } // a syscall this libseccomp does not know
            var comparisons = rule.arguments.map { arg in
                scmp_arg_cmp(arg: arg.index, op: arg.op.libseccompValue, datum_a: arg.value, datum_b: arg.valueTwo)
            }
            let rc = seccomp_rule_add_array(ctx, rule.action.libseccompValue, number, UInt32(comparisons.count), &comparisons)
            // EEXIST: the same syscall already has this action (two groups name it).
            if rc != 0 && rc != -EEXIST {
                throw SkiffError(.system, "seccomp: rule for \(rule.syscall) (\(rule.action)): \(errnoText(-rc))")
            }
        }
        let fd = skiff_seccomp_memfd()
        guard fd >= 0 else { throw SkiffError.system("seccomp: memfd_create") }
        defer { close(fd) }
        let rc = seccomp_export_bpf(ctx, fd)
        if rc != 0 { throw SkiffError(.system, "seccomp: export the filter: \(errnoText(-rc))") }
        let size = lseek(fd, 0, SEEK_END)
        var bytes = [UInt8](repeating: 0, count: Int(max(size, 0)))
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n == bytes.count, n % 8 == 0 else { throw SkiffError(.system, "seccomp: read back the filter") }
        return bytes
    }

    static func errnoText(_ code: Int32) -> String { String(cString: strerror(code)) }
}

/// Compiled filters under the state root, by the SHA-256 of their canonical
/// text: the default profile with the default capabilities is compiled once
/// per machine, not on every `run`.
public struct SeccompCache: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// The path of the compiled filter, compiling it when it is not there yet.
    public func filter(_ profile: SeccompProfile, for target: SeccompTarget) throws(SkiffError) -> String {
        let key = Self.hex(SeccompCompiler.canonicalText(profile, for: target))
        let path = directory + "/" + key + ".bpf"
        if Files.exists(path) { return path }
        let bytes = try SeccompCompiler.compile(profile, for: target)
        try Files.makeDirectories(directory)
        try Files.writeAtomically(path, bytes)
        return path
    }

    /// `filter(.skiffDefault, for: SeccompTarget(capabilities:))` without
    /// building the default profile's table and its canonical text (about
    /// 0.3 ms of every `run`): a memo `builtin-KEY` names the filter. Its
    /// first line is what the filter depends on besides the table, which is
    /// part of this program: the program's build ID, the capabilities, the
    /// machine and the kernel release; KEY is that line's checksum. A memo
    /// for another line, or whose filter is gone, or a program without a
    /// build ID, takes the long way (which writes the memo again).
    public func builtinFilter(capabilities: [String]) throws(SkiffError) -> String {
        guard let buildID = BuildID.ofThisProgram else {
            return try filter(.skiffDefault, for: SeccompTarget(capabilities: capabilities))
        }
        var u = utsname()
        uname(&u)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let key = ["builtin", buildID, capabilities.joined(separator: ","), field(u.machine), field(u.release)]
            .joined(separator: " ")
        let memo = directory + "/builtin-" + Checksum.fnv1a64Hex(Array(key.utf8))
        if let text = try? Files.readString(memo) {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            if lines.count == 3, lines[0] == key, lines[1].utf8.count == 68, lines[1].hasSuffix(".bpf"),
               !lines[1].contains("/"), Files.exists(directory + "/" + lines[1]) {
                return directory + "/" + lines[1]
            }
        }
        let path = try filter(.skiffDefault, for: SeccompTarget(capabilities: capabilities))
        try? Files.writeAtomically(memo, key + "\n" + String(path.split(separator: "/").last ?? "") + "\n")
        return path
    }

    static func hex(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { byte in
            let s = String(byte, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }
}

extension SeccompAction {
    var libseccompValue: UInt32 {
        switch self {
        case .allow: return skiff_scmp_act_allow()
        case .errno(let code): return skiff_scmp_act_errno(code)
        case .killThread: return skiff_scmp_act_kill_thread()
        case .killProcess: return skiff_scmp_act_kill_process()
        case .trap: return skiff_scmp_act_trap()
        case .trace(let code): return skiff_scmp_act_trace(code)
        case .log: return skiff_scmp_act_log()
        }
    }
}

extension SeccompArgument.Op {
    var libseccompValue: scmp_compare {
        switch self {
        case .notEqual: return SCMP_CMP_NE
        case .lessThan: return SCMP_CMP_LT
        case .lessOrEqual: return SCMP_CMP_LE
        case .equal: return SCMP_CMP_EQ
        case .greaterOrEqual: return SCMP_CMP_GE
        case .greaterThan: return SCMP_CMP_GT
        case .maskedEqual: return SCMP_CMP_MASKED_EQ
        }
    }
}
