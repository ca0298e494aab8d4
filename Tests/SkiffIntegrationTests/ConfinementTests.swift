import Foundation
import Testing

/// Docker's defaults that are in place: capabilities, no_new_privs, masked
/// and read-only paths. Each probe must fail inside and change nothing outside.
@Suite("confinement", .enabled(if: isRoot, rootReason))
struct ConfinementTests {
    static let dockerDefaultCaps = "00000000a80425fb"

    @Test func capabilitiesAndNoNewPrivsAreDockersDefaults() throws {
        let box = Sandbox()
        let r = try box.run(["run", "--rm", "busybox", "grep", "-E", "^(Cap|NoNewPrivs)", "/proc/self/status"])
        let fields = Dictionary(uniqueKeysWithValues: r.stdout.split(separator: "\n").map { line in
            let parts = line.split(separator: "\t")
            return (String(parts[0].dropLast()), String(parts.last ?? ""))
        })
        #expect(fields["CapEff"] == Self.dockerDefaultCaps, "\(r.stdout)")
        #expect(fields["CapPrm"] == Self.dockerDefaultCaps)
        #expect(fields["CapBnd"] == Self.dockerDefaultCaps)
        #expect(fields["CapInh"] == "0000000000000000")
        #expect(fields["CapAmb"] == "0000000000000000")
        #expect(fields["NoNewPrivs"] == "1")
    }

    @Test func privilegedActionsAreRefused() throws {
        let box = Sandbox()
        let hostname = try String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8)
        let script = """
            mount -t tmpfs none /tmp 2>/dev/null && echo MOUNTED
            hostname evil 2>/dev/null && echo RENAMED
            echo evil 2>/dev/null > /proc/sys/kernel/hostname && echo SYSCTL
            echo done
            """
        let r = try box.run(["run", "--rm", "busybox", "sh", "-c", script])
        #expect(r.stdout == "done\n", "a probe got through: \(r.stdout)")
        #expect(try String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8) == hostname)
    }

    @Test func maskedAndReadOnlyPaths() throws {
        let box = Sandbox()
        let name = "masked-\(UUID().uuidString.prefix(6))"
        #expect(try box.run(["run", "-d", "--name", name, "busybox", "sleep", "30"]).code == 0)
        // exec'd processes are confined the same way.
        let caps = try box.run(["exec", name, "grep", "CapEff", "/proc/self/status"])
        #expect(caps.stdout.contains(Self.dockerDefaultCaps))
        let r = try box.run(["exec", name, "sh", "-c",
                             "wc -c < /proc/keys; ls /sys/firmware | wc -l; grep -E ' /proc/(sys|bus|irq|fs) ' /proc/self/mountinfo | cut -d' ' -f5,6"])
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "0", "/proc/keys reads as empty: \(r.stdout)")
        #expect(lines.count > 1 && lines[1] == "0", "/sys/firmware is an empty tmpfs")
        for line in lines.dropFirst(2) { #expect(line.split(separator: " ")[1].hasPrefix("ro,"), "\(line)") }
        #expect(lines.contains { $0.hasPrefix("/proc/sys ") })
        // inspect and explain show the same, read back from the kernel.
        let json = try box.run(["inspect", name]).stdout
        let doc = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [[String: Any]]
        let security = (doc[0]["Kernel"] as! [String: Any])["Security"] as! [String: Any]
        #expect((security["Capabilities"] as? [String])?.count == 14)
        #expect((security["Capabilities"] as? [String])?.contains("SYS_ADMIN") == false)
        #expect(security["NoNewPrivs"] as? Bool == true)
        #expect((security["MaskedPaths"] as? [String])?.contains("/proc/keys") == true)
        #expect((security["ReadonlyPaths"] as? [String])?.contains("/proc/sys") == true)
        let explain = try box.run(["explain", name]).stdout
        #expect(explain.contains("not among them: SYS_ADMIN"))
        #expect(try box.run(["rm", "-f", name]).code == 0)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }
}

extension ConfinementTests {
    func effective(_ box: Sandbox, _ flags: [String]) throws -> String {
        let r = try box.run(["run", "--rm"] + flags + ["busybox", "grep", "CapEff", "/proc/self/status"])
        return String(r.out.split(separator: "\t").last ?? "")
    }

    @Test func capAddAndCapDropChangeTheSet() throws {
        let box = Sandbox()
        // NET_RAW is bit 13, SYS_TIME bit 25.
        let mask = UInt64(try effective(box, ["--cap-drop", "NET_RAW", "--cap-add", "cap_sys_time"]), radix: 16)
        #expect(mask == 0xa80425fb & ~(1 << 13) | (1 << 25))
        #expect(try effective(box, ["--cap-drop", "ALL"]) == "0000000000000000")
        let ping = try box.run(["run", "--rm", "--cap-drop", "NET_RAW", "busybox", "ping", "-c", "1", "127.0.0.1"])
        #expect(ping.code != 0, "ping needs NET_RAW")
        #expect(try box.run(["run", "--rm", "--cap-add", "NOPE", "busybox", "true"]).code == 125)
        #expect(box.containerIDs.isEmpty)
    }

    @Test func readOnlyRootKeepsItsOwnMountsWritable() throws {
        let box = Sandbox()
        let r = try box.run(["run", "--rm", "--read-only", "busybox", "sh", "-c",
                             "touch /x 2>/dev/null || echo root-ro; echo y > /dev/shm/y && echo shm-rw; echo h > /etc/hostname && echo etc-rw"])
        #expect(r.stdout == "root-ro\nshm-rw\netc-rw\n", "\(r.stdout) \(r.stderr)")
    }

    @Test func privilegedGivesWhatTheDefaultsHold() throws {
        let box = Sandbox()
        let name = "priv-\(UUID().uuidString.prefix(6))"
        #expect(try box.run(["run", "-d", "--privileged", "--name", name, "busybox", "sleep", "30"]).code == 0)
        let r = try box.run(["exec", name, "sh", "-c", "mount -t tmpfs none /tmp && echo mounted; grep -c . /proc/interrupts"])
        #expect(r.stdout.hasPrefix("mounted\n"), "\(r.stdout) \(r.stderr)")
        #expect((Int(r.stdout.split(separator: "\n").last ?? "") ?? 0) > 0, "/proc/interrupts is not hidden")
        let json = try box.run(["inspect", name]).stdout
        let doc = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [[String: Any]]
        #expect((doc[0]["HostConfig"] as! [String: Any])["Privileged"] as? Bool == true)
        let explain = try box.run(["explain", name]).stdout
        #expect(!explain.contains("not among them: SYS_ADMIN"))
        #expect(try box.run(["rm", "-f", name]).code == 0)
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
    }
}
