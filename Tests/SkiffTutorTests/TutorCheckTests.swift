import Foundation
import Testing
import SkiffCommon
import SkiffEngine
import SkiffKernel
@testable import SkiffTutor

@Suite("Tutor: checks against the live runtime", .enabled(if: isRoot, rootReason))
struct TutorCheckTests {
    func check(_ kind: Check.Kind, _ set: (inout Check) -> Void) -> Check {
        var c = Check(kind: kind)
        set(&c)
        return c
    }

    @Test func checksReadTheRunningContainer() throws {
        let box = TutorSandbox()
        let name = "chk-\(UUID().uuidString.prefix(6))"
        var spec = RunSpec(image: "busybox", command: ["sleep", "60"])
        spec.name = name
        spec.hostname = "shop-1"
        spec.detach = true
        spec.limits.memoryBytes = 48 << 20
        spec.limits.pidsLimit = 20
        _ = try box.engine.run(spec)
        let checker = Checker(engine: box.engine, lang: .en, values: ["n": name], lastOutput: "hello world")
        let good: [Check] = [
            check(.containerExists) { $0.container = "{{n}}" },
            check(.containerStatus) { $0.container = "{{n}}"; $0.status = "running" },
            check(.namespace) { $0.container = name; $0.type = "uts"; $0.shared = false },
            check(.namespace) { $0.container = name; $0.type = "user"; $0.shared = true },
            check(.cgroupLimit) { $0.container = name; $0.resource = "memory"; $0.equals = "48m" },
            check(.cgroupLimit) { $0.container = name; $0.resource = "pids"; $0.equals = "20" },
            check(.file) { $0.container = name; $0.path = "/etc/hostname"; $0.equals = "shop-1" },
            check(.file) { $0.container = name; $0.path = "/nope"; $0.exists = false },
            check(.imageLayers) { $0.image = "busybox"; $0.equals = "1" },
            check(.output) { $0.container = name; $0.exec = ["hostname"]; $0.equals = "shop-1" },
            check(.output) { $0.contains = "world" },
            check(.containerCount) { $0.image = "busybox:latest"; $0.status = "running"; $0.min = 1 },
        ]
        for r in checker.run(good) { #expect(r.passed, "\(r.check.kind): \(r.what): expected \(r.expected), got \(r.actual)") }

        let bad = checker.run([
            check(.cgroupLimit) { $0.container = name; $0.resource = "memory"; $0.equals = "64m" },
            check(.namespace) { $0.container = name; $0.type = "net"; $0.shared = true },
            check(.containerStatus) { $0.container = "no-such-\(name)"; $0.status = "running" },
            check(.exitCode) { $0.container = name; $0.equals = "0" },
        ])
        #expect(bad.allSatisfy { !$0.passed })
        #expect(bad[0].expected.hasPrefix("67108864") && bad[0].actual.hasPrefix("50331648"), "expected against actual: \(bad[0])")
        #expect(bad[1].expected == "shared with the host" && bad[1].actual.hasPrefix("its own"))
        #expect(bad[2].actual == "no container named no-such-\(name)")
        #expect(bad[3].actual.contains("not exited yet"))

        try box.engine.kill(name)
        _ = try box.engine.wait(name)
        let after = checker.run([
            check(.exitCode) { $0.container = name; $0.equals = "137" },
            check(.file) { $0.container = name; $0.path = "/etc/hostname"; $0.equals = "shop-1" },
        ])
        for r in after { #expect(r.passed, "\(r.what): expected \(r.expected), got \(r.actual)") }
        try box.engine.remove(name, force: true)
        #expect(box.leaks().isEmpty)
    }
}

@Suite("Tutor: autopilot plays every lesson on the real runtime", .enabled(if: isRoot, rootReason))
struct TutorAutopilotTests {
    @Test func allLessonsPassEndToEnd() throws {
        let box = TutorSandbox()
        let (code, output) = try box.skiff(["tutor", "--auto", "all"])
        #expect(code == 0, "\(output.suffix(3000))")
        let lessons = LessonLibrary.load(directory: repoLessons).lessons.count
        #expect(output.contains("autopilot: \(lessons) lesson(s) passed"))
        #expect(output.contains("What the kernel now holds for first:"), "the kernel views are shown")
        #expect(box.containerIDs.isEmpty, "the lessons left containers: \(box.containerIDs)")
        #expect(box.leaks().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: box.home + "/.local/share/skiff/progress.json"),
                "the autopilot does not touch a learner's progress")
    }

    @Test func chineseAutopilotOfOneLesson() throws {
        let box = TutorSandbox()
        let (code, output) = try box.skiff(["tutor", "--auto", "container", "--lang", "zh"])
        #expect(code == 0, "\(output.suffix(2000))")
        #expect(output.contains("容器是什么"))
        #expect(box.containerIDs.isEmpty)
    }

    @Test func lintCommandReportsFileAndLine() throws {
        let box = TutorSandbox()
        let bad = box.base + "/bad.yaml"
        try "skiff-lesson: 1\nid: x\ntitle:\n  en: only English\nsteps: []\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let (code, output) = try box.skiff(["lessons", "lint", bad])
        #expect(code == 1)
        #expect(output.contains(bad + ":4: title: the Chinese text (zh) is missing"), "\(output)")
        let (okCode, okOutput) = try box.skiff(["lessons", "lint"])
        #expect(okCode == 0, "\(okOutput)")
    }
}
