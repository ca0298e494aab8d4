import Foundation
import Testing
import SkiffCommon
import SkiffEngine
@testable import SkiffTutor

/// Explained refusals: the failing program, the syscall and capability it
/// needs, and the container's settings decide what the tutor says.
@Suite("Tutor: explained refusals")
struct TutorRefusalTests {
    static let defaults = RefusalExplainer.Confinement(capabilities: ContainerConfig.defaultCapabilities,
                                                       privileged: false, readOnlyRootfs: false, seccompProfile: nil)

    @Test func aMissingCapabilityIsNamedWithTheFlagThatAddsIt() {
        let lines = RefusalExplainer.explain(output: "mount: permission denied (are you root?)\n",
                                             confinement: Self.defaults, lang: .en)
        #expect(lines.count == 1)
        #expect(lines.first?.contains("lacks CAP_SYS_ADMIN") == true, "\(lines)")
        #expect(lines.first?.hasSuffix("--cap-add SYS_ADMIN") == true, "\(lines)")
        let clock = RefusalExplainer.explain(output: "date: can't set date: Operation not permitted",
                                             confinement: Self.defaults, lang: .zh)
        #expect(clock.first?.contains("CAP_SYS_TIME") == true, "\(clock)")
        #expect(clock.first?.contains("沙箱拒绝了 date") == true)
    }

    @Test func aCapabilityTheContainerHasIsNotBlamed() {
        var withAdmin = Self.defaults
        withAdmin.capabilities.append("SYS_ADMIN")
        let lines = RefusalExplainer.explain(output: "mount: permission denied (are you root?)",
                                             confinement: withAdmin, lang: .en)
        #expect(lines.isEmpty, "\(lines)")
    }

    @Test func seccompIsNamedWhenTheProfileRefusesTheCall() {
        let facts = RefusalFacts(capabilities: ContainerConfig.defaultCapabilities, seccompFiltering: true,
                                 seccompRefuses: { call, _ in call == "unshare" })
        #expect(facts.layer(syscall: "unshare", capability: "SYS_ADMIN") == .seccomp(syscall: "unshare"))
        #expect(facts.layer(syscall: "mount", capability: "SYS_ADMIN") == .capability("SYS_ADMIN"))
        let gated = RefusalFacts(capabilities: [], seccompFiltering: true, seccompRefuses: { _, caps in !caps.contains("SYS_TIME") })
        #expect(gated.layer(syscall: "settimeofday", capability: "SYS_TIME") == .seccomp(syscall: "settimeofday", capability: "SYS_TIME"))
        #expect(gated.layer(syscall: "settimeofday", capability: "SYS_TIME").flag == "--cap-add SYS_TIME")
        #expect(SandboxLayer.seccomp(syscall: "unshare").flag == "--security-opt seccomp=unconfined")
        // Skiff's default profile: mount is gated on SYS_ADMIN, keyctl never allowed, read always.
        #expect(SeccompFacts.refuses("mount", capabilities: ContainerConfig.defaultCapabilities) == true)
        #expect(SeccompFacts.refuses("mount", capabilities: ContainerConfig.defaultCapabilities + ["SYS_ADMIN"]) == false)
        #expect(SeccompFacts.refuses("keyctl", capabilities: ContainerConfig.defaultCapabilities) == true)
        #expect(SeccompFacts.refuses("read", capabilities: []) == false)
        var filtered = Self.defaults
        filtered.seccompProfile = "builtin"
        let lines = RefusalExplainer.explain(output: "unshare: unshare(0x10000000): Operation not permitted",
                                             confinement: filtered, lang: .en)
        #expect(lines.first?.contains("the seccomp filter refused the unshare syscall") == true, "\(lines)")
    }

    @Test func readOnlyMountsNameTheirFlag() {
        var readOnly = Self.defaults
        readOnly.readOnlyRootfs = true
        let root = RefusalExplainer.explain(output: "touch: /escape: Read-only file system", confinement: readOnly, lang: .en)
        #expect(root.first?.contains("root is mounted read-only") == true, "\(root)")
        #expect(root.first?.hasSuffix("run without --read-only") == true)
        let sysctl = RefusalExplainer.explain(output: "sh: can't create /proc/sys/kernel/hostname: Read-only file system",
                                              confinement: Self.defaults, lang: .en)
        #expect(sysctl.first?.contains("/proc/sys/kernel/hostname is bound read-only") == true, "\(sysctl)")
        #expect(sysctl.first?.hasSuffix("--privileged") == true)
    }

    @Test func maskedPathsAndSysctlKeysAreNamed() {
        var live = Self.defaults
        live.maskedPaths = ["/proc/acpi", "/proc/kcore"]
        let acpi = RefusalExplainer.explain(output: "touch: /proc/acpi/wakeup: Read-only file system", confinement: live, lang: .en)
        #expect(acpi.first?.contains("/proc/acpi is masked") == true, "\(acpi)")
        #expect(acpi.first?.hasSuffix("--privileged") == true)
        let sysctl = RefusalExplainer.explain(output: "sysctl: error setting key 'kernel.domainname': Read-only file system",
                                              confinement: live, lang: .en)
        #expect(sysctl.first?.contains("/proc/sys/kernel/domainname is bound read-only") == true, "\(sysctl)")
    }

    @Test func unrelatedOutputIsLeftAlone() {
        #expect(RefusalExplainer.explain(output: "hello\nls: /nope: No such file or directory\n",
                                         confinement: Self.defaults, lang: .en).isEmpty)
        #expect(RefusalExplainer.explain(output: "frobnicate: Operation not permitted",
                                         confinement: Self.defaults, lang: .en).isEmpty)
    }

    @Test func theFlagsOfARunAreReadForAGoneContainer() throws {
        let dir = "/tmp/skiff-refusal-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = TutorSessionTests().session(dir)
        let form = try #require(CommandForm("run --rm --cap-add sys_time --cap-drop CHOWN --read-only busybox date -s 10:00"))
        let c = try #require(s.confinement(of: form, before: [:]))
        #expect(c.capabilities.contains("SYS_TIME"))
        #expect(!c.capabilities.contains("CHOWN"))
        #expect(c.readOnlyRootfs)
        #expect(c.seccompProfile == "builtin")
        let unconfined = try #require(CommandForm("run --rm --security-opt seccomp=unconfined busybox true"))
        #expect(s.confinement(of: unconfined, before: [:])?.seccompProfile == "unconfined")
        #expect(form.positionals == ["busybox:latest", "date", "-s", "10:00"])
    }

    /// `run --privileged` in the tutor says first what the flag gives away.
    @Test(.enabled(if: isRoot, rootReason))
    func runPrivilegedWarnsWhatItGivesAway() throws {
        let box = TutorSandbox()
        let lessons = box.base + "/lessons"
        try FileManager.default.createDirectory(atPath: lessons, withIntermediateDirectories: true)
        try """
            skiff-lesson: 1
            id: privileged-demo
            title: {en: Privileged, zh: 特权}
            steps:
              - id: run
                text: {en: Run one., zh: 运行一个。}
                command: run --rm --privileged busybox true
            """.write(toFile: lessons + "/01-demo.yaml", atomically: true, encoding: .utf8)
        let (code, output) = try box.skiff(["tutor", "--lessons", lessons, "--auto", "all"])
        #expect(code == 0, "\(output)")
        #expect(output.contains("Warning: --privileged gives the container every capability"), "\(output)")
        #expect(box.engine.list(all: true).isEmpty)
    }

    /// The sandbox lesson end to end on the real runtime: the refusals it
    /// provokes are explained, the probes run, the exercise is checked.
    @Test(.enabled(if: isRoot, rootReason))
    func theSandboxLessonPlaysThroughAndExplainsItsRefusals() throws {
        let box = TutorSandbox()
        let (code, output) = try box.skiff(["tutor", "--auto", "sandbox"])
        #expect(code == 0, "\(output)")
        // With Skiff's seccomp profile the filter refuses mount first, as it is opened only with SYS_ADMIN.
        let mount = output.split(separator: "\n").first { $0.hasPrefix("The sandbox refused mount (mount(2))") } ?? ""
        #expect(mount.contains("CAP_SYS_ADMIN") && mount.hasSuffix("--cap-add SYS_ADMIN"), "\(output)")
        #expect(output.contains("The sandbox refused touch (writing /escape): the container's root is mounted read-only"))
        #expect(output.contains("mount            allowed"))
        #expect(box.engine.list(all: true).isEmpty)
    }
}
