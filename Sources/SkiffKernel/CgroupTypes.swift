#if canImport(Glibc)
import Glibc
#endif
import SkiffCommon

/// Which cgroup interface a driver speaks: v1 (one hierarchy per controller)
/// or v2 (one unified tree, controllers enabled per level).
public enum CgroupVersion: String, Codable, Sendable {
    case v1, v2
}

/// The devices a container may use, in the devices cgroup's rule syntax
/// (TYPE MAJOR:MINOR ACCESS): Docker's default list. mknod of any node is
/// allowed (`m`); reading or writing only the harmless ones. A block device
/// made with mknod cannot be opened.
public enum DeviceRules {
    public static let allowed = [
        "c *:* m", "b *:* m",
        "c 1:3 rwm",   // null
        "c 1:5 rwm",   // zero
        "c 1:7 rwm",   // full
        "c 1:8 rwm",   // random
        "c 1:9 rwm",   // urandom
        "c 5:0 rwm",   // tty
        "c 5:1 rwm",   // console
        "c 5:2 rwm",   // ptmx
        "c 136:* rwm", // pts/*
    ]
}

/// The resource limits of one container, in Docker's units.
///
/// - `memoryBytes`: nil or 0 means no limit; otherwise at least 6 MiB.
/// - `pidsLimit`: nil leaves the file alone; 0 or less writes "max" (unlimited).
/// - `nanoCpus`: CPUs times 10^9 (`--cpus 0.5` is 500_000_000); nil or 0 means no limit.
public struct ResourceLimits: Codable, Sendable, Equatable {
    public var memoryBytes: Int64?
    public var pidsLimit: Int64?
    public var nanoCpus: Int64?
    /// --privileged: no device allow-list in the cgroup. nil or false: `DeviceRules.allowed`.
    public var allowAllDevices: Bool? = nil

    public init(memoryBytes: Int64? = nil, pidsLimit: Int64? = nil, nanoCpus: Int64? = nil) {
        self.memoryBytes = memoryBytes
        self.pidsLimit = pidsLimit
        self.nanoCpus = nanoCpus
    }

    /// Docker's floor: "Minimum memory limit allowed is 6MB".
    public static let minimumMemoryBytes: Int64 = 6 * 1024 * 1024
    /// The CFS period Skiff uses, in microseconds (Docker's default).
    public static let cpuPeriodMicroseconds: Int64 = 100_000

    /// True when a memory limit is asked for (so the memory controller is needed).
    public var limitsMemory: Bool { (memoryBytes ?? 0) > 0 }
    /// True when a finite pids limit is asked for (so the pids controller is needed).
    public var limitsPids: Bool { (pidsLimit ?? 0) > 0 }
    /// True when a CPU limit is asked for (so the cpu controller is needed).
    public var limitsCpu: Bool { (nanoCpus ?? 0) > 0 }

    /// The CFS quota in microseconds per `cpuPeriodMicroseconds` for `nanoCpus`.
    public static func cpuQuotaMicroseconds(nanoCpus: Int64) -> Int64 {
        nanoCpus * cpuPeriodMicroseconds / 1_000_000_000
    }

    /// Checks the limits the way Docker's daemon does, before anything is created.
    public func validate(availableCPUs: Int = ResourceLimits.onlineCPUs) throws(SkiffError) {
        if let memory = memoryBytes {
            if memory < 0 {
                throw SkiffError(.usage, "invalid memory limit \(memory): it must be a positive size like 64m")
            }
            if memory > 0 && memory < Self.minimumMemoryBytes {
                throw SkiffError(.usage, "Minimum memory limit allowed is 6MB (got \(memory) bytes)")
            }
        }
        if let nano = nanoCpus {
            if nano < 0 {
                throw SkiffError(.usage, "invalid CPU limit \(Self.formatCpus(nano)): it must be positive, like 0.5")
            }
            if nano > 0 {
                try Self.checkCpuRange(nano, text: Self.formatCpus(nano), availableCPUs: availableCPUs)
            }
        }
    }

    // MARK: Parsing Docker's flag values

    /// Parses a memory size in Docker's units: a number (decimals allowed) and an
    /// optional unit b, k, m, g, t or p, with or without a trailing "b" (or "ib"),
    /// any case: "100", "512k", "64m", "64MB", "1.5g". Units are powers of 1024.
    public static func parseMemory(_ text: String) throws(SkiffError) -> Int64 {
        let bad = SkiffError(.usage, "invalid memory size \"\(text)\": expected a number with an optional unit b, k, m or g, like 64m or 1.5g")
        let trimmed = trim(text)
        let numberPart = String(trimmed.prefix { $0.isASCII && ($0.isNumber || $0 == ".") })
        var unit = trimmed.dropFirst(numberPart.count)
        if unit.first == " " { unit = unit.dropFirst() }
        let multipliers: [String: Int64] = [
            "": 1, "b": 1,
            "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
            "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
            "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
            "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
            "p": 1 << 50, "pb": 1 << 50, "pib": 1 << 50,
        ]
        guard let multiplier = multipliers[unit.lowercased()] else { throw bad }
        let pieces = numberPart.split(separator: ".", omittingEmptySubsequences: false)
        guard !numberPart.isEmpty, pieces.count <= 2, pieces.allSatisfy({ !$0.isEmpty }) else { throw bad }
        let tooLarge = SkiffError(.usage, "memory size \"\(text)\" is too large")
        if pieces.count == 1 {
            guard let value = Int64(numberPart) else { throw tooLarge }
            let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
            if overflow { throw tooLarge }
            return product
        }
        guard let value = Double(numberPart) else { throw bad }
        let product = value * Double(multiplier)
        guard product < 9.2e18 else { throw tooLarge }
        return Int64(product)
    }

    /// Parses `--cpus` (a decimal number of CPUs) into nanoCPUs: "0.5" is
    /// 500_000_000. Like Docker it must lie between 0.01 and the number of CPUs
    /// this process may run on.
    public static func parseCpus(_ text: String, availableCPUs: Int = ResourceLimits.onlineCPUs) throws(SkiffError) -> Int64 {
        let bad = SkiffError(.usage, "invalid CPU count \"\(text)\": expected a decimal number of CPUs, like 0.5 or 2")
        let trimmed = trim(text)
        let pieces = trimmed.split(separator: ".", omittingEmptySubsequences: false)
        guard pieces.count <= 2,
              pieces.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              pieces.contains(where: { !$0.isEmpty }) else { throw bad }
        let tooLarge = SkiffError(.usage, "CPU count \"\(text)\" is too large")
        var nano: Int64 = 0
        if !pieces[0].isEmpty {
            guard let whole = Int64(pieces[0]) else { throw tooLarge }
            let (product, overflow) = whole.multipliedReportingOverflow(by: 1_000_000_000)
            if overflow { throw tooLarge }
            nano = product
        }
        if pieces.count == 2 {
            var fraction = Array(pieces[1])
            while fraction.count > 9 {
                if fraction.last != "0" {
                    throw SkiffError(.usage, "CPU count \"\(text)\" is too precise: use at most 9 decimal places")
                }
                fraction.removeLast()
            }
            while fraction.count < 9 { fraction.append("0") }
            let (sum, overflow) = nano.addingReportingOverflow(Int64(String(fraction)) ?? 0)
            if overflow { throw tooLarge }
            nano = sum
        }
        try checkCpuRange(nano, text: text, availableCPUs: availableCPUs)
        return nano
    }

    /// nanoCPUs as a short decimal: 500_000_000 is "0.5", 2_000_000_000 is "2".
    public static func formatCpus(_ nano: Int64) -> String {
        let sign = nano < 0 ? "-" : ""
        let magnitude = nano.magnitude
        let whole = magnitude / 1_000_000_000
        var fraction = String(magnitude % 1_000_000_000)
        if fraction == "0" { return sign + String(whole) }
        fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(sign)\(whole).\(fraction)"
    }

    /// CPUs online on this machine (Docker's bound for `--cpus`). Glibc's
    /// module does not export sched_getaffinity, so a cpuset-restricted process
    /// still sees every online CPU here.
    public static var onlineCPUs: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    private static func checkCpuRange(_ nano: Int64, text: String, availableCPUs: Int) throws(SkiffError) {
        let cpus = max(availableCPUs, 1)
        if nano < 10_000_000 || nano > Int64(cpus) * 1_000_000_000 {
            let plural = cpus == 1 ? "CPU" : "CPUs"
            throw SkiffError(.usage, "invalid CPU count \"\(text)\": range of CPUs is from 0.01 to \(cpus).00, as there are only \(cpus) \(plural) available")
        }
    }

    private static func trim(_ text: String) -> Substring {
        var slice = Substring(text)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return slice
    }
}

/// One cgroup file and what the kernel holds in it, e.g.
/// `/sys/fs/cgroup/pids/skiff/<id>/pids.max` = `20`.
public struct CgroupFileValue: Codable, Sendable, Equatable {
    public var path: String
    public var value: String

    public init(path: String, value: String) {
        self.path = path
        self.value = value
    }
}

/// One cgroup interface (v1 or v2) behind which the engine creates, joins,
/// inspects and removes a container's cgroup.
public protocol CgroupDriver: Sendable {
    var version: CgroupVersion { get }
    /// Directories the cgroup called `name` (e.g. "skiff/<64-hex id>") occupies:
    /// one per v1 controller used, one for v2. Pure: the engine records these in
    /// its state before creating them.
    func directories(for name: String) -> [String]
    /// Creates the directories and writes the limits. On any failure removes
    /// what it created and throws a `SkiffError` saying which file/value failed.
    func create(name: String, limits: ResourceLimits) throws(SkiffError)
    /// The cgroup.procs files a process writes "0" (itself) into to join.
    func procsFiles(for name: String) -> [String]
    /// Files a single-threaded process joins by writing "0" (itself) into
    /// without the kernel's threadgroup lock, nil when there are none (v2).
    /// On v1 these are the `tasks` files: moving the writing thread only,
    /// the kernel skips the percpu rwsem whose first writer after a quiet
    /// spell waits an RCU grace period (about 8 ms here; 0.1 ms this way).
    func selfJoinFiles(for name: String) -> [String]?
    /// Removes every directory (tolerating ENOENT, retrying EBUSY for about a
    /// second), then the parent directories of `name` when they are empty.
    func remove(name: String) throws(SkiffError)
    /// The limit files and their current values (plus usage lines), for
    /// `inspect` and `explain`. Files that do not exist are left out.
    func limitFiles(for name: String) -> [CgroupFileValue]
    /// Number of OOM kills in this cgroup, nil if unknown.
    func oomKills(for name: String) -> Int?
    /// The file whose `oom_kill` line counts those kills. Pure, like
    /// `directories`: the spawn helper is told it before the cgroup exists.
    func oomEventsFile(for name: String) -> String?
    /// Controllers among memory, pids and cpu this driver can use on this machine.
    var availableControllers: [String] { get }
}
