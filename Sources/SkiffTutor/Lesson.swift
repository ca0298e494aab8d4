/// A lesson, as loaded from one file in `lessons/` (format: docs/lesson-format.md).
/// Lessons are data: an author writes YAML, never Swift.
public struct Lesson: Sendable {
    /// The format version this build reads: `skiff-lesson: 1`.
    public static let formatVersion = 1

    public var file: String
    public var id: String
    public var title: Localized
    public var summary: Localized?
    public var needs: [String]
    /// Values drawn once per learner (stable for one learner, different between learners).
    public var vars: [VarSpec]
    /// Images the lesson makes, removed by `reset`.
    public var cleanupImages: [String]
    public var steps: [Step]
    /// Line of each `needs` entry, for lint messages.
    public var needsLines: [Int]
    /// Starter files written into the learner's files directory for this
    /// lesson (`{{files}}`) when it starts; see `LessonFiles`.
    public var files: [LessonFile] = []
}

/// One starter file of a lesson: a relative path (no `..`, not absolute)
/// and its text, which may use {{vars}}.
public struct LessonFile: Sendable {
    public var path: String
    public var text: String
}

/// Text in the two languages every lesson carries.
public struct Localized: Sendable, Equatable {
    public var en: String
    public var zh: String
    public init(en: String, zh: String) {
        self.en = en
        self.zh = zh
    }
    public func text(_ lang: Language) -> String { lang == .zh ? zh : en }
}

public enum Language: String, Sendable, Codable, CaseIterable {
    case en, zh
}

public struct Step: Sendable {
    public var id: String
    public var line: Int
    public var text: Localized
    /// What the learner is asked to type (may use {{vars}}).
    public var command: String?
    /// A goal-only exercise: no command is shown; checks decide.
    public var goal: Bool
    /// Fed to the command's standard input by the autopilot (e.g. for `-it sh`).
    public var input: String?
    /// Which kernel views to print after this step's commands.
    public var show: [ViewKind]
    public var checks: [Check]
    public var hints: [Localized]
    /// Commands that complete the step; the autopilot types them.
    public var solution: [String]
    public var quiz: [Question]

    /// Commands the autopilot types: the command, else the solution.
    public var autopilotCommands: [String] {
        if let command, !goal { return [command] }
        return solution
    }
    public var isQuiz: Bool { !quiz.isEmpty }
    /// Nothing to type, check or answer: `next` moves on.
    public var isReading: Bool { command == nil && checks.isEmpty && quiz.isEmpty && solution.isEmpty }
}

public enum ViewKind: String, Sendable, CaseIterable {
    case ns, cgroups, layers, none
}

public struct Question: Sendable {
    public var line: Int
    public var prompt: Localized
    /// Multiple choice: the choices and the 1-based right one.
    public var choices: [Localized]
    public var answer: Int?
    /// Typed answer: a regular expression the whole answer must match
    /// (case-insensitive), and an example answer the linter and autopilot use.
    public var pattern: String?
    public var example: String?
    public var explanation: Localized?

    public func accepts(_ reply: String) -> Bool {
        let typed = reply.trimmingCharacters(in: " \t")
        if !choices.isEmpty, let answer {
            return Int(typed) == answer
        }
        guard let pattern, let regex = try? Regex(pattern).ignoresCase() else { return false }
        return (try? regex.wholeMatch(in: typed)) != nil
    }

    /// What the autopilot types.
    public var autopilotReply: String {
        if let answer, !choices.isEmpty { return String(answer) }
        return example ?? ""
    }
}

/// A randomized value: `choose` one of a list, or an integer in `range`.
public struct VarSpec: Sendable {
    public var name: String
    public var choices: [String]
    public var range: ClosedRange<Int>?
    public var step: Int
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) || c == "\n" || c == "\r" { s.removeFirst() }
        while let c = s.last, set.contains(c) || c == "\n" || c == "\r" { s.removeLast() }
        return String(s)
    }
}
