import Foundation
import Testing
import SkiffCommon
@testable import SkiffKernel

@Suite("cgroup v2 device program")
struct DeviceProgramTests {
    @Test func rulesParseAsTheDevicesCgroupWritesThem() throws {
        #expect(try DeviceProgram.parse("c 136:* rwm") == .init(type: 2, major: 136, minor: nil, access: 7))
        #expect(try DeviceProgram.parse("b *:* m") == .init(type: 1, major: nil, minor: nil, access: 1))
        #expect(try DeviceProgram.parse("a *:* rw") == .init(type: nil, major: nil, minor: nil, access: 6))
        for bad in ["c 1:3", "x 1:3 r", "c 1 r", "c 1:3 rx", "c -1:3 r"] {
            #expect(throws: SkiffError.self, "\(bad)") { try DeviceProgram.parse(bad) }
        }
        for rule in DeviceRules.allowed { _ = try DeviceProgram.parse(rule) }
    }

    @Test func eachRuleIsOneBlockEndingInAllowAndTheProgramEndsInDeny() throws {
        let rules = try DeviceRules.allowed.map { try DeviceProgram.parse($0) }
        let program = DeviceProgram.assemble(rules)
        #expect(program.count % 8 == 0)
        let codes = stride(from: 0, to: program.count, by: 8).map { program[$0] }
        // 6 loads, then per rule its jumps, the access test and "r0 = 1; exit", then "r0 = 0; exit".
        #expect(Array(codes.prefix(6)) == [0x61, 0x57, 0x61, 0x77, 0x61, 0x61])
        #expect(codes.filter { $0 == 0x95 }.count == rules.count + 1)
        #expect(Array(program.suffix(16)) == [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0])
        // Every jump lands inside the program, on the start of a block or the final deny.
        for index in codes.indices where codes[index] == 0x55 {
            let offset = Int(Int16(program[index * 8 + 2]) | Int16(program[index * 8 + 3]) << 8)
            let target = index + 1 + offset
            #expect(target < codes.count)
            #expect(codes[target - 1] == 0x95, "a jump at \(index) lands after an exit")
        }
    }

    @Test func theV2DriverAttachesTheAllowListUnlessPrivileged() throws {
        let fixture = try CgroupFixture.v2()
        let name = "skiff/" + String(repeating: "cd", count: 32)
        try fixture.v2Driver().create(name: name, limits: ResourceLimits())
        #expect(fixture.writes.contains("\(fixture.base)/\(name)=device-program(\(DeviceRules.allowed.count) rules)"))
        try fixture.v2Driver().remove(name: name)

        let privileged = try CgroupFixture.v2()
        var all = ResourceLimits()
        all.allowAllDevices = true
        try privileged.v2Driver().create(name: name, limits: all)
        #expect(!privileged.writes.contains { $0.contains("device-program") })
        try privileged.v2Driver().remove(name: name)
    }

    static let cgroup2: String? = {
        let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            if halves.count == 2, halves[1].hasPrefix("cgroup2 ") { return halves[0].split(separator: " ")[4].description }
        }
        return nil
    }()

    @Test(.enabled(if: getuid() == 0 && cgroup2 != nil, "needs root and a cgroup2 mount"))
    func theKernelRunsTheAllowList() throws {
        let dir = Self.cgroup2! + "/skiff-test-devices-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { rmdir(dir) }
        // Only /dev/null (1:3) and reading /dev/zero (1:5).
        try DeviceProgram.attach(to: dir, rules: ["c 1:3 rwm", "c 1:5 r"])
        let script = """
            echo $$ > \(dir)/cgroup.procs || exit 9
            head -c 1 /dev/null && echo null-ok
            head -c 1 /dev/zero | wc -c
            echo x > /dev/zero 2>/dev/null || echo zero-write-refused
            head -c 1 /dev/full 2>/dev/null || echo full-refused
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(text == "null-ok\n1\nzero-write-refused\nfull-refused\n", "\(text)")
    }
}
