import Foundation
import Glibc
import SkiffCommon
import SkiffEngine
import Testing

/// The escape-probe suite on the real runtime: every probe held in a default
/// container, by the layer the kernel's facts point at; with --privileged
/// the counter-example; nothing left behind either way.
@Suite("escape probes", .enabled(if: isRoot, rootReason), .serialized)
struct ProbeTests {
    /// The layer each probe must be stopped by in a default container, given
    /// what the probe process reported about itself (seccomp on or not).
    static func expected(_ r: ProbeResult) -> [SandboxLayer] {
        let seccomp = r.output.seccompFiltering
        func gate(_ call: String, _ cap: String) -> [SandboxLayer] { [seccomp ? .seccomp(syscall: call, capability: cap) : .capability(cap)] }
        switch r.name {
        case "mount": return gate("mount", "SYS_ADMIN")
        case "remount-root": return [.readOnlyMount("/")]
        case "sysrq": return [.readOnlyMount("/proc/sysrq-trigger"), .absent("/proc/sysrq-trigger")]
        case "kcore": return [.maskedPath("/proc/kcore"), .absent("/proc/kcore")]
        case "timer-list": return [.maskedPath("/proc/timer_list"), .absent("/proc/timer_list")]
        case "block-device":
            // Skiff's allow-list needs the cgroup v1 devices controller; without it only an outer one can refuse.
            return [FileManager.default.fileExists(atPath: "/sys/fs/cgroup/devices/devices.list")
                    ? .deviceCgroup(ours: true) : .deviceCgroup(ours: false)]
        case "module": return gate("finit_module", "SYS_MODULE") + (seccomp ? [] : [.kernel("no loadable module support")])
        case "reboot": return gate("reboot", "SYS_BOOT")
        case "hostname": return gate("sethostname", "SYS_ADMIN")
        case "clock": return gate("settimeofday", "SYS_TIME")
        case "ptrace", "signal": return [.namespace("pid")]
        case "userns": return [.seccomp(syscall: "unshare")]
        case "keyctl": return [.seccomp(syscall: "keyctl")]
        case "open-by-handle": return gate("open_by_handle_at", "DAC_READ_SEARCH")
        case "chroot": return [.namespace("mnt")]
        // Skiff's profile, like Docker's, refuses pivot_root even with SYS_ADMIN.
        case "pivot-root": return [seccomp ? .seccomp(syscall: "pivot_root") : .capability("SYS_ADMIN")]
        case "fork-bomb": return [.cgroup("pids.max 32")]
        case "memory": return [.cgroup("memory 32 MiB")]
        case "cpu": return [.cgroup("cpu 0.5")]
        default: return []
        }
    }

    @Test func everyProbeIsHeldInADefaultContainerByTheExpectedLayer() throws {
        let box = Sandbox()
        let hostname = Engine.hostnameForTests()
        let engine = Engine(root: StateRoot(path: box.root))
        let results = try engine.runProbes()
        #expect(results.count == 20)
        for r in results {
            let (held, layerAsExpected) = (r.held, Self.expected(r).contains(r.layer))
            #expect(held, "\(r.name) got out: \(r.detail)")
            #expect(layerAsExpected, "\(r.name): stopped by \(r.layer.summary) (\(r.detail))")
        }
        // The probes' own facts: Docker's capabilities, their own pid namespace.
        let facts = try #require(results.first { $0.name == "mount" }).output
        #expect(facts.status["CapEff"] == "00000000a80425fb")
        #expect(facts.status["NoNewPrivs"] == "1")
        #expect(facts.namespaces["pid"] != nil && facts.namespaces["pid"] != ownNamespace("pid"))
        #expect(Engine.hostnameForTests() == hostname)
        expectNothingLeft(box, results)
    }

    @Test func privilegedLetsMountAndMknodThroughButNamespacesAndCgroupsHold() throws {
        let box = Sandbox()
        let hostname = Engine.hostnameForTests()
        let engine = Engine(root: StateRoot(path: box.root))
        let results = try engine.runProbes(privileged: true)
        let byName = Dictionary(uniqueKeysWithValues: results.map { ($0.name, $0) })
        #expect(byName["mount"]?.verdict == .allowed)
        #expect(byName["remount-root"]?.verdict == .allowed)
        #expect(byName["clock"]?.verdict == .allowed)
        #expect(byName["block-device"]?.output.step("mknod")?.errno == nil, "mknod must go through")
        #expect(byName["block-device"]?.output.status["Seccomp"] == "0")
        // Its own allow-list lets every device through: only this machine's devices cgroup can refuse the disk.
        #expect([.none, .deviceCgroup(ours: false)].contains(byName["block-device"]?.layer))
        #expect(byName["hostname"]?.verdict == .contained)
        #expect(byName["hostname"]?.layer == .namespace("uts"))
        #expect(Engine.hostnameForTests() == hostname, "the host's name must not change")
        for name in ["ptrace", "signal"] { #expect(byName[name]?.layer == .namespace("pid")) }
        for name in ["fork-bomb", "memory", "cpu"] { #expect(byName[name]?.verdict == .blocked, "\(name)") }
        expectNothingLeft(box, results)
    }

    @Test func doctorProbesPrintsTheTableAndExitsByTheVerdicts() throws {
        let box = Sandbox()
        let r = try box.run(["doctor", "--probes"])
        #expect(r.stdout.contains("PROBE"), "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("STOPPED BY"))
        let allHeld = r.stdout.contains("probes held.")
        #expect(r.code == (allHeld ? 0 : 1), "\(r.stdout)")
        let bad = try box.run(["doctor", "--privileged"])
        #expect(bad.code == 125)
        #expect(bad.stderr.contains("--privileged goes with --probes"))
        #expect(box.allLeaks().isEmpty)
    }

    /// No state, names or mounts in the sandbox, no cgroup or mount of any probe's container.
    func expectNothingLeft(_ box: Sandbox, _ results: [ProbeResult]) {
        #expect(box.allLeaks().isEmpty, "\(box.allLeaks())")
        #expect(box.containerIDs.isEmpty)
        let leaked = results.flatMap { box.leaks(of: $0.containerID) }
        #expect(leaked.isEmpty, "\(leaked)")
        // The output files are unlinked as soon as they are made.
        let outputs = ((try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []).filter { $0.hasPrefix("skiff-probe-out-") }
        #expect(outputs.isEmpty, "\(outputs)")
    }

    func ownNamespace(_ type: String) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\(type)")
    }
}

extension Engine {
    static func hostnameForTests() -> String {
        (try? String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8)) ?? "?"
    }
}
