import Foundation
import Testing
import SkiffCommon
import SkiffEngine
@testable import SkiffTutor

/// goodLesson with a `files:` section before its steps.
func lessonWithFiles(_ entries: String) -> String {
    goodLesson.replacingOccurrences(of: "steps:\n", with: "files:\n" + entries + "steps:\n")
}

@Suite("Tutor: lesson files and image checks (parsing)")
struct TutorLessonFilesParsingTests {
    @Test func filesAreLoaded() {
        let (lesson, issues) = LessonLoader.parse(lessonWithFiles("""
          - path: site/Dockerfile
            text: |
              FROM busybox
          - path: site/index.html
            text: "<h1>{{box}}</h1>"

        """), file: "t.yaml")
        #expect(issues.isEmpty, "\(issues)")
        #expect(lesson?.files.map(\.path) == ["site/Dockerfile", "site/index.html"])
        #expect(lesson?.files.first?.text == "FROM busybox\n")
    }

    @Test func filesVariableNeedsAFilesSection() {
        let uses = goodLesson.replacingOccurrences(of: "      en: Read this.\n", with: "      en: Look in {{files}}.\n")
        #expect(LessonLoader.parse(uses, file: "t.yaml").1.contains { $0.message.contains("needs a 'files' section") })
        #expect(LessonLoader.parse(lessonWithFiles("  - path: a\n    text: x\n").replacingOccurrences(of: "      en: Read this.\n", with: "      en: Look in {{files}}.\n"), file: "t.yaml").1.isEmpty)
    }

    @Test func hostilePathsAreRefused() {
        for bad in ["../escape.txt", "site/../../escape.txt", "/etc/escape.txt", "site//x", "./x", ""] {
            let (lesson, issues) = LessonLoader.parse(lessonWithFiles("  - path: \"\(bad)\"\n    text: x\n"), file: "t.yaml")
            #expect(lesson == nil, "'\(bad)' must be refused")
            #expect(issues.contains { $0.message.hasPrefix("files[1].path") }, "'\(bad)': \(issues)")
        }
        let (_, unknown) = LessonLoader.parse(lessonWithFiles("  - path: a\n    text: x\n    mode: 755\n"), file: "t.yaml")
        #expect(unknown.contains { $0.message.contains("unknown key 'mode'") }, "\(unknown)")
    }

    @Test func imageChecksNeedTheirKeys() {
        func with(_ check: String) -> [LessonIssue] {
            LessonLoader.parse(goodLesson.replacingOccurrences(of: "kind: container_status\n        container: \"{{box}}\"\n        status: running\n", with: check), file: "t.yaml").1
        }
        #expect(with("kind: image_config\n        image: site:1\n        field: Cmd\n        equals: '[\"/start.sh\"]'\n").isEmpty)
        #expect(with("kind: image_file\n        image: site:1\n        path: /www/index.html\n        contains: Hello\n").isEmpty)
        #expect(with("kind: image_file\n        image: site:1\n        path: /nope\n        exists: false\n").isEmpty)
        #expect(with("kind: image_config\n        image: site:1\n        field: Colour\n        equals: red\n").contains { $0.message.contains("field must be one of") })
        #expect(with("kind: image_config\n        image: site:1\n        equals: x\n").contains { $0.message.contains("missing 'field'") })
        #expect(with("kind: image_file\n        image: site:1\n        path: /x\n").contains { $0.message.contains("give 'equals', 'contains' or 'pattern'") })
    }

    @Test func writeCommandsAreAllowedInSolutions() throws {
        #expect(CommandForm.problem("write site/index.html '<h1>hi</h1>'") == nil)
        #expect(CommandForm.problem("build -t site:1 /tmp/ctx") == nil)
        #expect(CommandForm.problem("image inspect site:1") == nil)
        #expect(CommandForm("docker build --tag=site:1 ctx") == CommandForm("build -t site:1 ctx"))
        let (asCommand, _) = LessonLoader.parse(goodLesson.replacingOccurrences(of: "command: run -d --name {{box}} busybox sleep 60", with: "command: write a.txt hi"), file: "t.yaml")
        let library = LessonLibrary.check([try #require(asCommand)])
        #expect(library.issues.contains { $0.message.contains("`write` belongs in 'solution'") }, "\(library.issues)")
    }
}

@Suite("Tutor: lesson files are written only inside their directory")
struct TutorLessonFilesWriteTests {
    let base = "/tmp/skiff-test-lessonfiles-\(UUID().uuidString.prefix(8))"

    @Test func startersAreWrittenAndKept() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        let (parsed, issues) = LessonLoader.parse(lessonWithFiles("  - path: site/index.html\n    text: \"<h1>{{box}}</h1>\"\n"), file: "t.yaml")
        let lesson = try #require(parsed, "\(issues)")
        let dir = base + "/files/sample"
        let first = try LessonFiles.writeStarters(lesson, values: ["box": "kite"], in: dir, owner: nil, overwrite: false)
        #expect(first == ["site/index.html"])
        #expect(try String(contentsOfFile: dir + "/site/index.html", encoding: .utf8) == "<h1>kite</h1>")
        // A learner's edit survives coming back; `reset` (overwrite) restores the starter.
        try "mine".write(toFile: dir + "/site/index.html", atomically: true, encoding: .utf8)
        #expect(try LessonFiles.writeStarters(lesson, values: ["box": "kite"], in: dir, owner: nil, overwrite: false).isEmpty)
        #expect(try String(contentsOfFile: dir + "/site/index.html", encoding: .utf8) == "mine")
        _ = try LessonFiles.writeStarters(lesson, values: ["box": "kite"], in: dir, owner: nil, overwrite: true)
        #expect(try String(contentsOfFile: dir + "/site/index.html", encoding: .utf8) == "<h1>kite</h1>")
    }

    @Test func symlinksAndDotDotCannotLeadAWriteOut() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        let dir = base + "/files/sample"
        let outside = base + "/outside"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        for bad in ["../outside/x", "/\(outside)/x", "a/../../outside/x"] {
            #expect(throws: SkiffError.self) { try LessonFiles.write("x", to: bad, in: dir, owner: nil) }
        }
        // A directory link and a file link planted in the directory, both pointing out.
        try FileManager.default.createSymbolicLink(atPath: dir + "/site", withDestinationPath: outside)
        try FileManager.default.createSymbolicLink(atPath: dir + "/page.html", withDestinationPath: outside + "/page.html")
        try? LessonFiles.write("x", to: "site/index.html", in: dir, owner: nil)
        #expect(throws: SkiffError.self) { try LessonFiles.write("x", to: "page.html", in: dir, owner: nil) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty, "nothing was written outside")
    }

    @Test(.enabled(if: isRoot, rootReason)) func underSudoTheFilesBelongToTheLearner() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        let dir = base + "/files/sample"
        try LessonFiles.write("x\n", to: "site/deep/index.html", in: dir, owner: (65534, 65534))
        for path in [base + "/files", dir, dir + "/site", dir + "/site/deep", dir + "/site/deep/index.html"] {
            var st = stat()
            #expect(lstat(path, &st) == 0 && st.st_uid == 65534 && st.st_gid == 65534, "\(path) belongs to uid \(st.st_uid)")
        }
    }
}

@Suite("Tutor: image checks against the live image store", .enabled(if: isRoot, rootReason))
struct TutorImageCheckTests {
    @Test func imageChecksReadTheBuiltImage() throws {
        let box = TutorSandbox()
        let context = box.base + "/ctx"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try "FROM busybox\nCOPY index.html /www/index.html\nRUN rm /bin/vi\nEXPOSE 80\nENV MODE=test\nCMD [\"httpd\", \"-f\", \"-h\", \"/www\"]\n"
            .write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        try "<h1>kestrel</h1>\n".write(toFile: context + "/index.html", atomically: true, encoding: .utf8)
        let (code, output) = try box.skiff(["build", "-t", "chk:1", context])
        try #require(code == 0, "\(output)")

        let checker = Checker(engine: box.engine, lang: .en, values: ["img": "chk:1"])
        let good: [Check] = [
            check(.imageLayers) { $0.image = "{{img}}"; $0.equals = "3" },
            check(.imageConfig) { $0.image = "{{img}}"; $0.field = "Cmd"; $0.equals = #"["httpd","-f","-h","/www"]"# },
            check(.imageConfig) { $0.image = "chk:1"; $0.field = "ExposedPorts"; $0.equals = "80/tcp" },
            check(.imageConfig) { $0.image = "chk:1"; $0.field = "Env"; $0.contains = "MODE=test" },
            check(.imageFile) { $0.image = "chk:1"; $0.path = "/www/index.html"; $0.contains = "kestrel" },
            check(.imageFile) { $0.image = "chk:1"; $0.path = "/bin/sh"; $0.pattern = "." },
            check(.imageFile) { $0.image = "chk:1"; $0.path = "/bin/vi"; $0.exists = false },
        ]
        for r in checker.run(good) { #expect(r.passed, "\(r.check.kind): \(r.what): expected \(r.expected), got \(r.actual)") }

        let bad = checker.run([
            check(.imageLayers) { $0.image = "chk:1"; $0.equals = "4" },
            check(.imageConfig) { $0.image = "chk:1"; $0.field = "Cmd"; $0.equals = #"["/start.sh"]"# },
            check(.imageConfig) { $0.image = "chk:1"; $0.field = "Entrypoint"; $0.contains = "httpd" },
            check(.imageFile) { $0.image = "chk:1"; $0.path = "/www/index.html"; $0.contains = "heron" },
            check(.imageFile) { $0.image = "chk:1"; $0.path = "/www/none.html"; $0.contains = "x" },
            check(.imageFile) { $0.image = "chk:1"; $0.path = "/www/index.html"; $0.exists = false },
            check(.imageFile) { $0.image = "chk:1"; $0.path = "/../../etc/passwd"; $0.contains = "root" },
            check(.imageConfig) { $0.image = "no-such:1"; $0.field = "Cmd"; $0.equals = "[]" },
        ])
        for r in bad { #expect(!r.passed, "\(r.what) should fail: \(r.actual)") }
        #expect(bad[0].actual == "3")
        #expect(bad[1].actual == #""["httpd","-f","-h","/www"]""#)
        #expect(bad[4].actual == "no such file")
        #expect(bad[7].actual == "no such image")
        #expect(box.leaks().isEmpty)
    }
}
