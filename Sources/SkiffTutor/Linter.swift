/// The lessons of a directory, checked as a whole: each file on its own
/// (schema, version, both languages, known check kinds), then together
/// (unique ids, `needs` resolvable and acyclic). A broken lesson is
/// reported and left out; the others still load.
public struct LessonLibrary: Sendable {
    /// Good lessons in an order where every lesson comes after what it needs.
    public var lessons: [Lesson]
    public var issues: [LessonIssue]

    public func lesson(_ id: String) -> Lesson? { lessons.first { $0.id == id } }

    public static func load(directory: String) -> LessonLibrary {
        lint(files: LessonLoader.files(in: directory))
    }

    public static func lint(files: [String]) -> LessonLibrary {
        var loaded: [Lesson] = []
        var issues: [LessonIssue] = []
        for file in files {
            let (lesson, found) = LessonLoader.load(file: file)
            issues += found
            if let lesson { loaded.append(lesson) }
        }
        return check(loaded, issues: issues)
    }

    public static func check(_ candidates: [Lesson], issues initial: [LessonIssue] = []) -> LessonLibrary {
        var issues = initial
        var byID: [String: Lesson] = [:]
        var lessons: [Lesson] = []
        for lesson in candidates {
            if let first = byID[lesson.id] {
                issues.append(LessonIssue(file: lesson.file, line: 1, message: "lesson id '\(lesson.id)' is also used by \(first.file)"))
                continue
            }
            // Commands must be ones the tutor can run.
            var bad = false
            for step in lesson.steps {
                for command in step.solution + (step.command.map { [$0] } ?? []) {
                    if let problem = CommandForm.problem(command) {
                        issues.append(LessonIssue(file: lesson.file, line: step.line, message: "step '\(step.id)': \(problem)"))
                        bad = true
                    }
                }
                // `write` runs in the tutor, not the CLI: typing it cannot match a step's command.
                if let command = step.command, CommandForm.split(command)?.first == "write" {
                    issues.append(LessonIssue(file: lesson.file, line: step.line, message: "step '\(step.id)': `write` belongs in 'solution' (with checks), not in 'command'"))
                    bad = true
                }
            }
            if bad { continue }
            byID[lesson.id] = lesson
            lessons.append(lesson)
        }
        // Unresolvable needs: the lesson is left out (and so is what needs it).
        var removed = true
        while removed {
            removed = false
            for lesson in lessons {
                for (i, need) in lesson.needs.enumerated() where byID[need] == nil {
                    let line = i < lesson.needsLines.count ? lesson.needsLines[i] : 1
                    let known = candidates.contains { $0.id == need }
                    issues.append(LessonIssue(file: lesson.file, line: line,
                                              message: known ? "needs '\(need)', which has errors" : "needs '\(need)', which no lesson provides"))
                    byID[lesson.id] = nil
                    removed = true
                    break
                }
            }
            lessons.removeAll { byID[$0.id] == nil }
        }
        // Cycles: Kahn's algorithm; what is left over is on a cycle.
        var ordered: [Lesson] = []
        var placed: Set<String> = []
        var pending = lessons
        while !pending.isEmpty {
            guard let next = pending.firstIndex(where: { $0.needs.allSatisfy(placed.contains) }) else { break }
            let lesson = pending.remove(at: next)
            ordered.append(lesson)
            placed.insert(lesson.id)
        }
        for lesson in pending {
            let line = lesson.needsLines.first ?? 1
            issues.append(LessonIssue(file: lesson.file, line: line,
                                      message: "'needs' makes a cycle: \(cycle(from: lesson.id, in: pending).joined(separator: " -> "))"))
        }
        issues.sort { ($0.file, $0.line) < ($1.file, $1.line) }
        return LessonLibrary(lessons: ordered, issues: issues)
    }

    static func cycle(from start: String, in lessons: [Lesson]) -> [String] {
        let byID = Dictionary(lessons.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var path = [start]
        var current = start
        while let next = byID[current]?.needs.first(where: { byID[$0] != nil }) {
            if let i = path.firstIndex(of: next) { return Array(path[i...]) + [next] }
            path.append(next)
            current = next
        }
        return path
    }
}
