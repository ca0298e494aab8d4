import Glibc
import Testing
@testable import SkiffEngine

/// What skiff-probe prints, read back: steps, notes, its own /proc facts.
@Suite("probe output")
struct ProbeOutputTests {
    static let sample = """
        probe sysrq
        step open-write err 30
        note bytes 0
        fact CapEff:\t00000000a80425fb
        fact Seccomp:\t2
        ns pid pid:[4026532327]
        mountinfo 1133 1129 0:21 /sysrq-trigger /proc/sysrq-trigger ro,nosuid,nodev,noexec,relatime - proc proc rw
        mountinfo 1134 1129 0:6 /null /proc/kcore rw,relatime - devtmpfs devtmpfs rw
        """

    @Test func stepsNotesFactsAndMountsAreRead() {
        let out = ProbeOutput.parse(Self.sample)
        #expect(out.steps == [.init(name: "open-write", errno: EROFS)])
        #expect(out.note("bytes") == 0)
        #expect(out.capabilities.contains("MKNOD") && !out.capabilities.contains("SYS_ADMIN"))
        #expect(out.seccompFiltering)
        #expect(out.namespaces["pid"] == "pid:[4026532327]")
        #expect(out.isReadOnly("/proc/sysrq-trigger"))
        #expect(!out.isReadOnly("/proc/kcore"))
        #expect(out.mount(at: "/proc/kcore")?.fsType == "devtmpfs")
    }

    @Test func theSysrqProbeNamesTheReadOnlyBind() {
        var result = ProbeResult(name: "sysrq", attempt: "", verdict: .allowed, layer: .none, detail: "", flags: [])
        let context = ProbeContext(hostPid: 1, hostMarker: "/nowhere", rootDevice: "8:0", hostname: { "h" }, ownDeviceCgroup: false)
        Probes.sysrq.judge(ProbeOutput.parse(Self.sample), context, &result)
        #expect(result.verdict == .blocked)
        #expect(result.layer == .readOnlyMount("/proc/sysrq-trigger"))
        #expect(result.layer.flag == "--privileged")
    }

    @Test func aMaskedFileReadsEmptyAndAnAbsentOneIsNamedSo() {
        let context = ProbeContext(hostPid: 1, hostMarker: "/nowhere", rootDevice: "8:0", hostname: { "h" }, ownDeviceCgroup: false)
        var masked = ProbeResult(name: "kcore", attempt: "", verdict: .allowed, layer: .none, detail: "", flags: [])
        Probes.masked("kcore", "/proc/kcore").judge(ProbeOutput.parse(Self.sample + "\nstep open ok\nstep read ok"), context, &masked)
        #expect(masked.layer == .maskedPath("/proc/kcore"))
        var absent = masked
        Probes.masked("kcore", "/proc/kcore").judge(ProbeOutput.parse("step open err 2"), context, &absent)
        #expect(absent.layer == .absent("/proc/kcore"))
        #expect(absent.verdict == .blocked)
    }
}
