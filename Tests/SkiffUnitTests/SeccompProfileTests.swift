import Foundation
import Testing
@testable import SkiffEngine
import SkiffCommon
@testable import SkiffSeccomp

@Suite("Seccomp profiles")
struct SeccompProfileTests {
    let amd64 = SeccompTarget(capabilities: ContainerConfig.defaultCapabilities, arch: "amd64", kernel: KernelVersion(6, 1))

    func parse(_ json: String) throws(SkiffError) -> SeccompProfile {
        try DockerProfileFormat.parse(Array(json.utf8), source: "p.json")
    }

    @Test func readsDockersFormat() throws {
        let profile = try parse("""
            {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
             "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                         {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": null}],
             "syscalls": [
               {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
               {"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
               {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
               {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
                "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390x"]}},
               {"names": ["reboot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_BOOT"], "minKernel": "4.8"}},
               {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}, "comment": "x86 only"}
             ]}
            """)
        #expect(profile.defaultAction == .errno(1))
        #expect(profile.architectures["amd64"] == ["x86_64", "x86", "x32"])
        #expect(profile.architectures["arm64"] == ["aarch64"])
        #expect(profile.rules.count == 6)
        #expect(profile.rules[1] == SeccompRule(["mkdir"], .errno(13)))
        #expect(profile.rules[3].arguments == [SeccompArgument(0, .maskedEqual, 0x7E02_0000, 0)])
        #expect(profile.rules[3].unless == SeccompCondition(capabilities: ["SYS_ADMIN"], arches: ["s390x"]))
        #expect(profile.rules[4].onlyIf == SeccompCondition(capabilities: ["SYS_BOOT"], minKernel: KernelVersion(4, 8)))

        let chosen = profile.rules(for: amd64).map(\.syscall)
        #expect(chosen == ["read", "write", "mkdir", "personality", "clone", "arch_prctl"])
        let admin = SeccompTarget(capabilities: ["SYS_ADMIN", "SYS_BOOT"], arch: "amd64", kernel: KernelVersion(6, 1))
        #expect(profile.rules(for: admin).map(\.syscall) == ["read", "write", "mkdir", "personality", "reboot", "arch_prctl"])
        let oldKernel = SeccompTarget(capabilities: ["SYS_BOOT"], arch: "arm64", kernel: KernelVersion(4, 4))
        #expect(!profile.rules(for: oldKernel).map(\.syscall).contains("reboot"))
        #expect(!profile.rules(for: oldKernel).map(\.syscall).contains("arch_prctl"))
    }

    @Test func aRuleWithoutErrnoRetRefusesWithEPERM() throws {
        let profile = try parse(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}"#)
        #expect(profile.rules == [SeccompRule(["mkdir"], .errno(UInt16(EPERM)))])
        #expect(profile.defaultAction == .allow)
    }

    @Test(arguments: [
        ("{\"defaultAction\": ", "not valid JSON"),
        ("[]", "wrong type"),
        ("{}", "\"defaultAction\" is missing"),
        (#"{"defaultAction": "SCMP_ACT_NOPE"}"#, "unknown defaultAction \"SCMP_ACT_NOPE\""),
        (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}"#,
         "syscalls[0] has unknown action"),
        (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}"#,
         "unknown operator \"SCMP_CMP_ABOUT\""),
        (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
         "compares argument 7"),
        (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]}"#, "names no syscall"),
        (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": 3}]}"#, "syscalls[0].action has the wrong type"),
        (#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86"], "archMap": [{"architecture": "SCMP_ARCH_X86"}]}"#, "not both"),
    ])
    func badProfilesGiveOneClearLine(json: String, expected: String) {
        do {
            _ = try parse(json)
            Issue.record("\(json) was accepted")
        } catch {
            #expect(error.exitCode == 125)
            #expect(error.message.hasPrefix("seccomp profile p.json: "), "\(error.message)")
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(!error.message.contains("\n"))
        }
    }

    @Test func theDefaultProfileGatesMachineWideSyscallsByCapability() {
        let plain = SeccompProfile.skiffDefault.rules(for: amd64)
        let allowed = Set(plain.filter { $0.action == .allow && $0.arguments.isEmpty }.map(\.syscall))
        #expect(SeccompProfile.skiffDefault.defaultAction == .errno(UInt16(EPERM)))
        for name in ["read", "execve", "arch_prctl", "chown", "setuid", "ptrace"] { #expect(allowed.contains(name), "\(name)") }
        for name in ["mount", "unshare", "setns", "keyctl", "reboot", "init_module", "settimeofday", "open_by_handle_at",
                     "bpf", "add_key", "kexec_load", "clone", "swapon"] {
            #expect(!allowed.contains(name), "\(name) is open by default")
        }
        // chroot is in Docker's default set of capabilities, so it is open.
        #expect(allowed.contains("chroot"))
        let clone = plain.filter { $0.syscall == "clone" }
        #expect(clone.map(\.arguments) == [[SeccompArgument(0, .maskedEqual, 0x7E02_0000, 0)]])
        #expect(plain.contains(ResolvedSeccompRule(syscall: "clone3", action: .errno(UInt16(ENOSYS)), arguments: [])))
        #expect(plain.filter { $0.syscall == "personality" }.count == 5)
        #expect(plain.contains { $0.syscall == "socket" && $0.arguments == [SeccompArgument(0, .notEqual, 40)] })

        let admin = SeccompTarget(capabilities: ContainerConfig.defaultCapabilities + ["SYS_ADMIN", "SYS_TIME"],
                                  arch: "amd64", kernel: KernelVersion(6, 1))
        let opened = SeccompProfile.skiffDefault.rules(for: admin)
        #expect(opened.contains(ResolvedSeccompRule(syscall: "mount", action: .allow, arguments: [])))
        #expect(opened.contains(ResolvedSeccompRule(syscall: "clone", action: .allow, arguments: [])))
        #expect(opened.contains(ResolvedSeccompRule(syscall: "settimeofday", action: .allow, arguments: [])))
        #expect(!opened.contains { $0.syscall == "clone3" && $0.action != .allow })
    }

    @Test func verdictsExplainARefusalAndNameTheCapabilityThatOpensIt() {
        let profile = SeccompProfile.skiffDefault
        #expect(profile.verdict(for: "read", target: amd64) == .action(.allow))
        #expect(profile.verdict(for: "mount", target: amd64) == .action(.errno(UInt16(EPERM))))
        #expect(profile.verdict(for: "keyctl", target: amd64) == .action(.errno(UInt16(EPERM))))
        #expect(profile.verdict(for: "clone3", target: amd64) == .action(.errno(UInt16(ENOSYS))))
        guard case .dependsOnArguments(let rules) = profile.verdict(for: "clone", target: amd64) else {
            Issue.record("clone is allowed only without namespace flags")
            return
        }
        #expect(rules.count == 1)
        #expect(profile.capabilities(opening: "mount") == ["SYS_ADMIN"])
        #expect(profile.capabilities(opening: "reboot") == ["SYS_BOOT"])
        #expect(Set(profile.capabilities(opening: "syslog")) == ["SYS_ADMIN", "SYSLOG"])
        #expect(profile.capabilities(opening: "keyctl").isEmpty, "no flag but seccomp=unconfined opens keyctl")
    }

    @Test func theDefaultProfileCompilesToAFilterTheKernelAccepts() throws {
        let bpf = try SeccompCompiler.compile(.skiffDefault, for: amd64)
        #expect(bpf.count % 8 == 0)
        #expect(bpf.count / 8 > 100 && bpf.count / 8 <= 4096, "\(bpf.count / 8) instructions")
        let custom = try parse(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat", "no_such_call"], "action": "SCMP_ACT_ERRNO"}]}"#)
        #expect(try SeccompCompiler.compile(custom, for: amd64).count > 0)
    }

    @Test func theCacheKeysOnWhatTheFilterDependsOn() throws {
        let dir = "/tmp/skiff-test-seccomp-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = SeccompCache(directory: dir)
        let first = try cache.filter(.skiffDefault, for: amd64)
        #expect(try cache.filter(.skiffDefault, for: amd64) == first)
        let admin = SeccompTarget(capabilities: ["SYS_ADMIN"], arch: "amd64", kernel: KernelVersion(6, 1))
        #expect(try cache.filter(.skiffDefault, for: admin) != first)
        // Capabilities that open no rule give the same filter.
        let netAdmin = SeccompTarget(capabilities: ContainerConfig.defaultCapabilities + ["NET_ADMIN"],
                                     arch: "amd64", kernel: KernelVersion(6, 1))
        #expect(try cache.filter(.skiffDefault, for: netAdmin) == first)
    }

    @Test func securityOptionsAsDockerSpellsThem() throws {
        #expect(try SecurityOptions.parse([]) == SecurityOptions())
        #expect(try SecurityOptions.parse(["seccomp=unconfined"]).seccomp == .unconfined)
        #expect(try SecurityOptions.parse(["seccomp:/x.json"]).seccomp == .file("/x.json"))
        #expect(try SecurityOptions.parse(["no-new-privileges"]).noNewPrivileges == true)
        #expect(try SecurityOptions.parse(["no-new-privileges:true"]).noNewPrivileges == true)
        #expect(try SecurityOptions.parse(["no-new-privileges=false"]).noNewPrivileges == false)
        for bad in ["seccomp", "seccomp=", "nonsense", "no-new-privileges=maybe"] {
            #expect(throws: SkiffError.self, "\(bad)") { try SecurityOptions.parse([bad]) }
        }
        #expect(throws: SkiffError.self) { try SecurityOptions.parse(["apparmor=unconfined"]) }
    }

    @Test func homeDefaultsToRootOnlyForRoot() throws {
        for user in [nil, "", "0", "root", "0:0", "root:wheel"] { #expect(Environment.isRoot(user), "\(user ?? "nil")") }
        for user in ["1000", "nobody", "1000:0", "rooty"] { #expect(!Environment.isRoot(user), "\(user)") }
        let env = try Environment.merge(image: [], files: [], flags: [], hostname: "h", tty: false, defaultHome: false)
        #expect(!env.contains { $0.hasPrefix("HOME=") })
    }

    @Test func ulimitsAsDockerSpellsThem() throws {
        #expect(try Ulimit.parse("nofile=100:200") == Ulimit(name: "nofile", soft: 100, hard: 200))
        #expect(try Ulimit.parse("nproc=50") == Ulimit(name: "nproc", soft: 50, hard: 50))
        #expect(try Ulimit.parse("core=-1") == Ulimit(name: "core", soft: -1, hard: -1))
        #expect(try Ulimit.parse("nofile=100:200").spawnArguments == ["--rlimit", "nofile", "7", "100", "200"])
        #expect(try Ulimit.parse("core=0:-1").spawnArguments == ["--rlimit", "core", "4", "0", String(UInt64.max)])
        for (bad, message) in [("nofile", "invalid ulimit argument"), ("files=1", "invalid ulimit type: files"),
                               ("nofile=300:200", "soft limit must be less than or equal to hard limit: 300 > 200"),
                               ("nofile=-1:10", "soft limit"), ("nofile=x", "invalid ulimit value"),
                               ("nofile=1:2:3", "too many limit value arguments")] {
            do {
                _ = try Ulimit.parse(bad)
                Issue.record("\(bad) was accepted")
            } catch {
                #expect(error.message.contains(message), "\(error.message)")
                #expect(error.exitCode == 125)
            }
        }
    }
}
