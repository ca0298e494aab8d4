import Foundation
import Testing
@testable import SkiffTutor

/// The repository's lessons/ directory, found from this file's path.
let repoLessons: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path + "/lessons"
}()

/// A temporary directory of lesson files, removed at the end.
final class LessonDir {
    let path = "/tmp/skiff-lessons-\(UUID().uuidString.prefix(8))"
    init() { try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
    func write(_ name: String, _ text: String) { try? text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8) }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

func lesson(_ id: String, needs: [String]) -> String {
    goodLesson.replacingOccurrences(of: "id: sample", with: "id: \(id)")
        .replacingOccurrences(of: "needs: []", with: "needs: [\(needs.joined(separator: ", "))]")
}

@Suite("Tutor: linter")
struct TutorLinterTests {
    @Test func theShippedLessonsAreClean() {
        let files = LessonLoader.files(in: repoLessons)
        #expect(files.count >= 3)
        let library = LessonLibrary.lint(files: files)
        #expect(library.issues.isEmpty, "\(library.issues.map(\.description))")
        #expect(library.lessons.map(\.id).prefix(3) == ["container", "image-vs-container", "lifecycle"])
        for l in library.lessons {
            #expect(l.steps.contains { !$0.quiz.isEmpty }, "\(l.id) ends with a quiz")
            #expect(l.steps.contains { $0.goal }, "\(l.id) has an exercise")
        }
    }

    @Test func needsAreOrderedAndResolved() {
        let dir = LessonDir()
        dir.write("a.yaml", lesson("c", needs: ["b"]))
        dir.write("b.yaml", lesson("b", needs: ["a"]))
        dir.write("c.yaml", lesson("a", needs: []))
        let library = LessonLibrary.load(directory: dir.path)
        #expect(library.issues.isEmpty)
        #expect(library.lessons.map(\.id) == ["a", "b", "c"])
    }

    @Test func cyclesAndMissingNeedsAreReportedAndSkipped() {
        let dir = LessonDir()
        dir.write("1.yaml", lesson("x", needs: ["y"]))
        dir.write("2.yaml", lesson("y", needs: ["x"]))
        dir.write("3.yaml", lesson("z", needs: ["nowhere"]))
        dir.write("4.yaml", lesson("ok", needs: []))
        let library = LessonLibrary.load(directory: dir.path)
        #expect(library.lessons.map(\.id) == ["ok"])
        let text = library.issues.map(\.description)
        #expect(text.contains { $0.hasSuffix("1.yaml:6: 'needs' makes a cycle: x -> y -> x") }, "\(text)")
        #expect(text.contains { $0.hasSuffix("3.yaml:6: needs 'nowhere', which no lesson provides") }, "\(text)")
    }

    @Test func duplicateIDsAndUnknownCommands() {
        let dir = LessonDir()
        dir.write("a.yaml", lesson("same", needs: []))
        dir.write("b.yaml", lesson("same", needs: []).replacingOccurrences(of: "id: sample", with: "id: other"))
        dir.write("c.yaml", lesson("bad", needs: []).replacingOccurrences(of: "command: run -d", with: "command: frobnicate -d"))
        let library = LessonLibrary.load(directory: dir.path)
        let text = library.issues.map(\.description)
        #expect(text.contains { $0.contains("b.yaml:1: lesson id 'same' is also used by") }, "\(text)")
        #expect(text.contains { $0.contains("c.yaml:18: step 'run'") && $0.contains("'frobnicate' is not a skiff command") }, "\(text)")
        #expect(library.lessons.map(\.id) == ["same"])
    }

    @Test func aBrokenFileDoesNotStopTheOthers() {
        let dir = LessonDir()
        dir.write("good.yaml", lesson("fine", needs: []))
        dir.write("broken.yaml", "skiff-lesson: 1\nid: [unclosed\n")
        dir.write("notes.txt", "not a lesson")
        let library = LessonLibrary.load(directory: dir.path)
        #expect(library.lessons.map(\.id) == ["fine"])
        #expect(library.issues.count == 1)
        #expect(library.issues.first?.file.hasSuffix("broken.yaml") == true)
        #expect(library.issues.first?.message.contains("not valid YAML") == true)
    }
}

@Suite("Tutor: command forms")
struct TutorCommandFormTests {
    @Test(arguments: [
        ("docker run -it busybox sh", "run -i -t busybox sh"),
        ("run --interactive --tty busybox:latest sh", "run -it busybox sh"),
        ("run --name=web -d busybox sleep 5", "run -d --name web busybox sleep 5"),
        ("ps --all", "ps -a"),
        ("logs --follow x", "logs -f x"),
        ("run -m64m --pids-limit 5 busybox true", "run --memory 64m --pids-limit=5 busybox true"),
        ("exec -it c sh", "exec -ti c sh"),
        ("run -d busybox sh -c 'echo a b'", "run -d busybox sh -c \"echo a b\""),
    ])
    func equivalentFormsCompareEqual(_ pair: (String, String)) throws {
        let a = try #require(CommandForm(pair.0)), b = try #require(CommandForm(pair.1))
        #expect(a == b)
    }

    @Test func differencesAreSaidInWords() throws {
        let asked = try #require(CommandForm("run -d --name first busybox sleep 3600"))
        let typed = try #require(CommandForm("run --name second --rm busybox sleep 3600"))
        let diffs = typed.differences(from: asked, lang: .en)
        #expect(diffs.contains("you left out -d"))
        #expect(diffs.contains("you added --rm"))
        #expect(diffs.contains("--name is second; this step asks for first"))
        let other = try #require(CommandForm("ps"))
        #expect(other.differences(from: asked, lang: .en) == ["you typed `ps`; this step asks for `run`."])
        #expect(typed.differences(from: asked, lang: .zh).contains("少了 -d"))
    }

    @Test func flagsAfterTheImageBelongToTheCommand() throws {
        let a = try #require(CommandForm("run busybox ls -d /"))
        #expect(a.options.isEmpty)
        #expect(a.positionals == ["busybox:latest", "ls", "-d", "/"])
    }

    @Test func problemsOfLessonCommands() {
        #expect(CommandForm.problem("run busybox") == nil)
        #expect(CommandForm.problem("docker ps") == nil)
        #expect(CommandForm.problem("rm -rf /")?.contains("rm") == nil)
        #expect(CommandForm.problem("bogus x") != nil)
        #expect(CommandForm.problem("run 'unbalanced") != nil)
    }
}

@Suite("Tutor: vars and progress")
struct TutorTemplateProgressTests {
    let vars = [VarSpec(name: "box", choices: ["a", "b", "c", "d", "e", "f", "g", "h"], range: nil, step: 1),
                VarSpec(name: "n", choices: [], range: 10...40, step: 5)]

    @Test func valuesAreStablePerLearnerAndVaryBetweenLearners() {
        let one = Template.draw(vars, seed: 42, lesson: "l")
        #expect(one == Template.draw(vars, seed: 42, lesson: "l"))
        #expect(["10", "15", "20", "25", "30", "35", "40"].contains(one["n"]!))
        let many = Set((1...40).map { Template.draw(vars, seed: UInt64($0) &* 7919, lesson: "l")["box"]! })
        #expect(many.count > 3, "different learners draw different values")
    }

    @Test func fillUsesVarsAndHostFacts() {
        #expect(Template.fill("run --name {{box}} x{{ n }}", ["box": "web", "n": "5"]) == "run --name web x5")
        #expect(!Template.fill("{{host.kernel}}", [:]).contains("{{"))
        #expect(Template.fill("{{missing}}", [:]) == "{{missing}}")
        #expect(Template.names(in: "a {{x}} b {{shortid.c}}") == ["x", "shortid.c"])
    }

    @Test func progressRoundTripsOnDisk() throws {
        let dir = "/tmp/skiff-progress-\(UUID().uuidString.prefix(8))/deep/skiff"
        defer { try? FileManager.default.removeItem(atPath: String(dir.dropLast("/deep/skiff".count))) }
        let store = ProgressStore(directory: dir)
        var p = store.load()
        #expect(p.lessons.isEmpty)
        p.lang = .zh
        p.current = "container"
        p[lesson: "container"].step = 4
        p[lesson: "container"].containers = ["abc"]
        try store.save(p)
        #expect(store.load() == p)
        let mode = try FileManager.default.attributesOfItem(atPath: dir)[.posixPermissions] as? Int
        #expect(mode == 0o700)
    }

    @Test func corruptProgressStartsFresh() throws {
        let dir = "/tmp/skiff-progress-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = ProgressStore(directory: dir)
        try store.ensureDirectory()
        try "{not json".write(toFile: store.progressPath, atomically: true, encoding: .utf8)
        #expect(store.load().lessons.isEmpty)
    }
}
