import Glibc
import SkiffCommon

/// A seccomp profile in Skiff's own terms: what happens to a syscall nobody
/// named, which CPU architectures the filter covers, and rules that may only
/// apply to some containers (by capability, architecture or kernel).
public struct SeccompProfile: Sendable, Equatable {
    public var defaultAction: SeccompAction
    /// Architectures by libseccomp name ("x86_64", "x86", "x32"), per native
    /// architecture: the filter covers the native one plus its companions.
    public var architectures: [String: [String]]
    public var rules: [SeccompRule]

    public init(defaultAction: SeccompAction, architectures: [String: [String]], rules: [SeccompRule]) {
        self.defaultAction = defaultAction
        self.architectures = architectures
        self.rules = rules
    }
}

public enum SeccompAction: Sendable, Equatable, CustomStringConvertible {
    case allow
    case errno(UInt16)
    case killThread
    case killProcess
    case trap
    case trace(UInt16)
    case log

    public var description: String {
        switch self {
        case .allow: return "allow"
        case .errno(let code): return "errno \(code)"
        case .killThread: return "kill-thread"
        case .killProcess: return "kill-process"
        case .trap: return "trap"
        case .trace(let code): return "trace \(code)"
        case .log: return "log"
        }
    }
}

/// One comparison of a syscall argument (libseccomp's scmp_arg_cmp).
public struct SeccompArgument: Sendable, Equatable {
    public enum Op: String, Sendable, CaseIterable {
        case notEqual = "SCMP_CMP_NE", lessThan = "SCMP_CMP_LT", lessOrEqual = "SCMP_CMP_LE"
        case equal = "SCMP_CMP_EQ", greaterOrEqual = "SCMP_CMP_GE", greaterThan = "SCMP_CMP_GT"
        case maskedEqual = "SCMP_CMP_MASKED_EQ"
    }
    public var index: UInt32
    public var op: Op
    /// For maskedEqual: the mask.
    public var value: UInt64
    /// For maskedEqual: what the masked argument must equal.
    public var valueTwo: UInt64

    public init(_ index: UInt32, _ op: Op, _ value: UInt64, _ valueTwo: UInt64 = 0) {
        self.index = index
        self.op = op
        self.value = value
        self.valueTwo = valueTwo
    }
}

/// Which containers a rule is for: every listed item must hold.
public struct SeccompCondition: Sendable, Equatable {
    /// Capability names without CAP_ ("SYS_ADMIN").
    public var capabilities: [String] = []
    /// Docker's architecture names ("amd64", "arm64", "s390x").
    public var arches: [String] = []
    public var minKernel: KernelVersion?

    public init(capabilities: [String] = [], arches: [String] = [], minKernel: KernelVersion? = nil) {
        self.capabilities = capabilities
        self.arches = arches
        self.minKernel = minKernel
    }

    public var isEmpty: Bool { capabilities.isEmpty && arches.isEmpty && minKernel == nil }
}

public struct SeccompRule: Sendable, Equatable {
    public var names: [String]
    public var action: SeccompAction
    /// All must match (AND), as in a libseccomp rule.
    public var arguments: [SeccompArgument]
    /// Docker's `includes`: the rule applies only when every part holds.
    public var onlyIf: SeccompCondition
    /// Docker's `excludes`: the rule is dropped when any part holds.
    public var unless: SeccompCondition

    public init(_ names: [String], _ action: SeccompAction, arguments: [SeccompArgument] = [],
                onlyIf: SeccompCondition = .init(), unless: SeccompCondition = .init()) {
        self.names = names
        self.action = action
        self.arguments = arguments
        self.onlyIf = onlyIf
        self.unless = unless
    }
}

public struct KernelVersion: Sendable, Equatable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// "6.1.0-18-amd64" or "4.8" → 6.1 / 4.8.
    public init?(parsing text: String) {
        let parts = text.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard parts.count == 2 else { return nil }
        self.init(parts[0], parts[1])
    }

    public static func < (a: KernelVersion, b: KernelVersion) -> Bool {
        (a.major, a.minor) < (b.major, b.minor)
    }

    public var description: String { "\(major).\(minor)" }
}

/// The container a profile is applied to: rules are chosen by it.
public struct SeccompTarget: Sendable, Equatable {
    /// Capability names without CAP_.
    public var capabilities: [String]
    /// Docker's name of the native architecture ("amd64").
    public var arch: String
    public var kernel: KernelVersion

    public init(capabilities: [String], arch: String = SeccompTarget.nativeArch, kernel: KernelVersion = SeccompTarget.runningKernel) {
        self.capabilities = capabilities
        self.arch = arch
        self.kernel = kernel
    }

    /// uname's machine as Docker names it (Go's GOARCH).
    public static var nativeArch: String {
        let machine = unameField(\.machine)
        let docker = ["x86_64": "amd64", "aarch64": "arm64", "i686": "x86", "i386": "x86", "armv7l": "arm",
                      "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64", "mips64": "mips64"]
        return docker[machine] ?? machine
    }

    public static var runningKernel: KernelVersion {
        KernelVersion(parsing: unameField(\.release)) ?? KernelVersion(0, 0)
    }

    private static func unameField<T>(_ field: KeyPath<utsname, T>) -> String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: u[keyPath: field]) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}

/// A rule after the target has chosen it: one syscall, one action.
public struct ResolvedSeccompRule: Sendable, Equatable {
    public var syscall: String
    public var action: SeccompAction
    public var arguments: [SeccompArgument]
}

extension SeccompProfile {
    /// The rules that apply to this container, in order, one per syscall name.
    public func rules(for target: SeccompTarget) -> [ResolvedSeccompRule] {
        var out: [ResolvedSeccompRule] = []
        for rule in rules where rule.applies(to: target) {
            for name in rule.names {
                out.append(ResolvedSeccompRule(syscall: name, action: rule.action, arguments: rule.arguments))
            }
        }
        return out
    }

    /// libseccomp names of the architectures the filter covers.
    public func architectures(for target: SeccompTarget) -> [String] {
        architectures[target.arch] ?? []
    }
}

extension SeccompRule {
    func applies(to target: SeccompTarget) -> Bool {
        let has = Set(target.capabilities)
        if !onlyIf.capabilities.allSatisfy(has.contains) { return false }
        if !onlyIf.arches.isEmpty && !onlyIf.arches.contains(target.arch) { return false }
        if let min = onlyIf.minKernel, target.kernel < min { return false }
        if !unless.capabilities.isEmpty && unless.capabilities.contains(where: has.contains) { return false }
        if unless.arches.contains(target.arch) { return false }
        if let min = unless.minKernel, target.kernel >= min { return false }
        return true
    }
}

/// What a profile does with one syscall, for explaining a refusal.
public enum SeccompVerdict: Sendable, Equatable {
    case action(SeccompAction)
    /// Only some argument values are let through (clone, personality, socket).
    case dependsOnArguments([ResolvedSeccompRule])
}

extension SeccompProfile {
    /// The action for `syscall` in a container like `target`: its first
    /// rule without argument tests, else the argument rules, else the default.
    public func verdict(for syscall: String, target: SeccompTarget) -> SeccompVerdict {
        let rules = rules(for: target).filter { $0.syscall == syscall }
        if let plain = rules.first(where: { $0.arguments.isEmpty }) { return .action(plain.action) }
        if !rules.isEmpty { return .dependsOnArguments(rules) }
        return .action(defaultAction)
    }

    /// The capabilities whose rules allow `syscall` ("mount" → ["SYS_ADMIN"]):
    /// the `--cap-add` that would open it.
    public func capabilities(opening syscall: String) -> [String] {
        rules.filter { $0.action == .allow && $0.names.contains(syscall) }.flatMap(\.onlyIf.capabilities)
    }
}
