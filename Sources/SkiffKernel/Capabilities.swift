import SkiffCommon

/// Linux capabilities by number (capability(7)), for showing a process's sets.
public enum Capabilities {
    public static let names = [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
        "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
        "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
        "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
        "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
        "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
    ]

    /// "00000000a80425fb" → ["CHOWN", "DAC_OVERRIDE", ...].
    public static func decode(_ hex: String) -> [String] {
        guard let mask = UInt64(hex, radix: 16) else { return [] }
        return (0..<64).compactMap { bit in
            guard mask & (1 << UInt64(bit)) != 0 else { return nil }
            return bit < names.count ? names[bit] : "CAP_\(bit)"
        }
    }

    /// One field of /proc/PID/status ("CapEff", "NoNewPrivs", "Seccomp").
    public static func statusField(_ name: String, pid: Int32) -> String? {
        guard let text = (try? Files.readString("/proc/\(pid)/status")) ?? nil else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            return line.dropFirst(name.count + 1).trimmed
        }
        return nil
    }
}
