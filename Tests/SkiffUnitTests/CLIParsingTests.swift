import Testing
@testable import SkiffCLI
@testable import SkiffEngine
import SkiffCommon
import SkiffKernel

@Suite("CLI flag parsing")
struct CLIParsingTests {
    @Test func runSplitsFlagsImageAndCommand() throws {
        let parsed = try Skiff.parseAsRoot(["run", "-it", "--rm", "--name", "web", "-e", "A=1", "-e", "B",
                                            "-v", "/srv:/data:ro", "--memory", "64m", "--pids-limit", "20",
                                            "--cpus", "0.5", "-w", "/tmp", "--hostname", "h1",
                                            "busybox", "ls", "-la", "/"])
        let run = try #require(parsed as? Run)
        #expect(run.flags.interactive && run.flags.tty && run.flags.autoRemove)
        #expect(run.image == "busybox")
        #expect(run.command == ["ls", "-la", "/"], "flags after the image belong to the command")
        let spec = try run.flags.options.spec(image: run.image, command: run.command)
        #expect(spec.name == "web")
        #expect(spec.env == ["A=1", "B"])
        #expect(spec.volumes == ["/srv:/data:ro"])
        #expect(spec.limits.memoryBytes == Int64(64 << 20))
        #expect(spec.limits.pidsLimit == 20)
        #expect(spec.limits.nanoCpus == 500_000_000)
        #expect(spec.workingDir == "/tmp")
        #expect(spec.hostname == "h1")
    }

    @Test func detachAndShortFlags() throws {
        let run = try #require(try Skiff.parseAsRoot(["run", "-d", "busybox", "sleep", "5"]) as? Run)
        #expect(run.detach)
        #expect(run.command == ["sleep", "5"])
    }

    @Test(arguments: [
        ["ps", "-a", "-q"], ["ps", "-aq"], ["stop", "-t", "1", "a", "b"], ["kill", "-s", "TERM", "x"],
        ["rm", "-f", "x"], ["logs", "-f", "--tail", "5", "-t", "x"], ["exec", "-it", "x", "sh"],
        ["inspect", "x"], ["images"], ["pull", "busybox"], ["doctor"], ["diff", "x"], ["explain", "x"],
        ["start", "x"], ["restart", "x"], ["create", "busybox"], ["wait", "x"],
    ])
    func everyCommandParses(_ args: [String]) throws {
        _ = try Skiff.parseAsRoot(args)
    }

    @Test func unknownFlagIsExit125() {
        #expect(CLI.main(["run", "--bogus", "busybox"]) == 125)
        #expect(CLI.main(["ps", "--bogus"]) == 125)
    }

    @Test func bindSpecifications() throws {
        #expect(try Bind.parse("/a:/b") == Bind(source: "/a", target: "/b", readOnly: false))
        #expect(try Bind.parse("/a:/b:ro") == Bind(source: "/a", target: "/b", readOnly: true))
        for bad in ["a:/b", "/a:b", "/a", "/a:/b:xx", "/a:/", ":/b"] {
            #expect(throws: SkiffError.self) { try Bind.parse(bad) }
        }
    }

    @Test func signalsByNameOrNumber() throws {
        #expect(try Signals.parse("KILL") == 9)
        #expect(try Signals.parse("sigterm") == 15)
        #expect(try Signals.parse("10") == 10)
        #expect(throws: SkiffError.self) { try Signals.parse("NOPE") }
    }

    @Test func environmentMergeOrderAndDefaults() throws {
        let env = try Environment.merge(image: ["PATH=/bin", "A=image"], files: [], flags: ["A=flag", "C=3"],
                                        hostname: "h", tty: true)
        #expect(env.contains("A=flag"))
        #expect(env.contains("PATH=/bin"))
        #expect(env.contains("HOSTNAME=h"))
        #expect(env.contains("TERM=xterm"))
        #expect(env.contains("HOME=/root"))
        #expect(env.filter { $0.hasPrefix("A=") }.count == 1)
        #expect(throws: SkiffError.self) { try Environment.merge(image: [], files: [], flags: ["=x"], hostname: "h", tty: false) }
    }

    @Test(arguments: [(0.5, "Less than a second"), (1, "1 second"), (42, "42 seconds"), (61, "About a minute"),
                      (600, "10 minutes"), (3700, "About an hour"), (7300, "2 hours"), (3 * 86400, "3 days")] as [(Double, String)])
    func humanDurations(_ seconds: Double, _ text: String) {
        #expect(Time.humanDuration(seconds) == text)
    }

    @Test func containerNames() {
        let store = ContainerStore(root: StateRoot(path: "/nonexistent"))
        #expect(store.isValidName("web"))
        #expect(store.isValidName("a_b.c-d1"))
        #expect(!store.isValidName("-web"))
        #expect(!store.isValidName("we b"))
        #expect(!store.isValidName("wéb"))
        #expect(store.isValidName(NameGenerator.random()))
    }

    @Test func timestampsAreRFC3339Nano() {
        #expect(Time.rfc3339Nano(0) == "1970-01-01T00:00:00.000000000Z")
        #expect(Time.rfc3339Nano(1_795_962_793_909_080_714) == "2026-11-29T14:33:13.909080714Z")
    }
}

@Suite("capability flags")
struct CapabilityFlagTests {
    @Test func addsAndDropsLikeDocker() throws {
        let defaults = ContainerConfig.defaultCapabilities
        #expect(try CapabilitySet.resolve(add: [], drop: [], privileged: false) == SkiffKernel.Capabilities.names.filter { defaults.contains($0) })
        let changed = try CapabilitySet.resolve(add: ["cap_net_admin"], drop: ["NET_RAW", "chown"], privileged: false)
        #expect(changed.contains("NET_ADMIN") && !changed.contains("NET_RAW") && !changed.contains("CHOWN"))
        #expect(try CapabilitySet.resolve(add: ["ALL"], drop: ["SYS_ADMIN"], privileged: false).count == SkiffKernel.Capabilities.names.count - 1)
        #expect(try CapabilitySet.resolve(add: ["NET_ADMIN"], drop: ["ALL"], privileged: false).isEmpty)
        #expect(throws: SkiffError.self) { try CapabilitySet.resolve(add: ["FLY"], drop: [], privileged: false) }
        #expect(CapabilitySet.mask(defaults) == "a80425fb")
    }
}
