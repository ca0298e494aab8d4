import Glibc
import SkiffCommon
import Yams

/// A problem in a lesson file, reported as `file:line: message`.
public struct LessonIssue: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }
    public var description: String { "\(file):\(line): \(message)" }
}

/// Reads lesson files: YAML (through Yams' node tree, which keeps line
/// numbers) into `Lesson`, collecting every problem instead of stopping at
/// the first. A file with any problem yields no lesson.
public enum LessonLoader {
    /// Larger files are refused: a lesson is a few kilobytes.
    static let maxBytes = 512 * 1024

    public static func load(file: String) -> (Lesson?, [LessonIssue]) {
        let text: String
        do {
            guard let read = try Files.readString(file) else {
                return (nil, [LessonIssue(file: file, line: 0, message: "cannot read the file")])
            }
            text = read
        } catch {
            return (nil, [LessonIssue(file: file, line: 0, message: "cannot read the file: \(error.message)")])
        }
        return parse(text, file: file)
    }

    public static func parse(_ text: String, file: String) -> (Lesson?, [LessonIssue]) {
        var p = Parser(file: file)
        guard text.utf8.count <= maxBytes else {
            return (nil, [LessonIssue(file: file, line: 0, message: "file too large (over \(maxBytes / 1024) KiB)")])
        }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                return (nil, [LessonIssue(file: file, line: 1, message: "empty file")])
            }
            root = node
        } catch let error as YamlError {
            return (nil, [LessonIssue(file: file, line: Parser.line(of: error), message: "not valid YAML: \(Parser.oneLine(error))")])
        } catch {
            return (nil, [LessonIssue(file: file, line: 1, message: "not valid YAML: \(error)")])
        }
        let lesson = p.lesson(root)
        return (p.issues.isEmpty ? lesson : nil, p.issues)
    }

    /// Every `*.yaml`/`*.yml` file of a directory, sorted by name.
    public static func files(in directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if (name.hasSuffix(".yaml") || name.hasSuffix(".yml")) && !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted().map { directory + "/" + $0 }
    }
}

struct Parser {
    let file: String
    var issues: [LessonIssue] = []
    /// The lesson has starter files, so `{{files}}` means something.
    var hasFiles = false

    init(file: String) { self.file = file }

    static func line(of error: YamlError) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return 1
        }
    }

    static func oneLine(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _):
            return problem
        default:
            return String(describing: error).split(separator: "\n").first.map(String.init) ?? "syntax error"
        }
    }

    mutating func issue(_ node: Node?, _ message: String) {
        issues.append(LessonIssue(file: file, line: node?.mark?.line ?? 1, message: message))
    }

    func line(_ node: Node?) -> Int { node?.mark?.line ?? 1 }

    /// The pairs of a mapping, complaining about keys not in `allowed`.
    mutating func mapping(_ node: Node, _ what: String, allowed: Set<String>) -> [String: Node]? {
        guard case .mapping(let m) = node else {
            issue(node, "\(what) must be a mapping (key: value)")
            return nil
        }
        var out: [String: Node] = [:]
        for (k, v) in m {
            guard let key = k.scalar?.string else { issue(k, "\(what): keys must be plain words"); continue }
            if !allowed.contains(key) {
                issue(k, "\(what): unknown key '\(key)' (known: \(allowed.sorted().joined(separator: ", ")))")
                continue
            }
            if out[key] != nil { issue(k, "\(what): '\(key)' given twice") }
            out[key] = v
        }
        return out
    }

    mutating func string(_ node: Node?, _ what: String) -> String? {
        guard let node else { return nil }
        guard let s = node.scalar?.string else { issue(node, "\(what) must be text"); return nil }
        return s
    }

    mutating func int(_ node: Node?, _ what: String) -> Int? {
        guard let node else { return nil }
        guard let s = node.scalar?.string, let n = Int(s) else { issue(node, "\(what) must be a whole number"); return nil }
        return n
    }

    mutating func bool(_ node: Node?, _ what: String) -> Bool? {
        guard let node else { return nil }
        switch node.scalar?.string.lowercased() {
        case "true", "yes": return true
        case "false", "no": return false
        default: issue(node, "\(what) must be true or false"); return nil
        }
    }

    mutating func list(_ node: Node?, _ what: String) -> [Node] {
        guard let node else { return [] }
        if case .sequence(let s) = node { return Array(s) }
        issue(node, "\(what) must be a list")
        return []
    }

    /// Text or a list of texts (a command list).
    mutating func strings(_ node: Node?, _ what: String) -> [String] {
        guard let node else { return [] }
        if node.scalar != nil { return string(node, what).map { [$0] } ?? [] }
        return list(node, what).compactMap { string($0, what) }
    }

    mutating func localized(_ node: Node?, _ what: String, required: Bool = true) -> Localized? {
        guard let node else {
            return nil
        }
        guard let m = mapping(node, what, allowed: ["en", "zh"]) else { return nil }
        let en = string(m["en"], what + ".en")
        let zh = string(m["zh"], what + ".zh")
        if m["en"] == nil { issue(node, "\(what): the English text (en) is missing") }
        if m["zh"] == nil { issue(node, "\(what): the Chinese text (zh) is missing") }
        if let en, en.trimmingCharacters(in: " \t").isEmpty { issue(m["en"], "\(what).en is empty") }
        if let zh, zh.trimmingCharacters(in: " \t").isEmpty { issue(m["zh"], "\(what).zh is empty") }
        // In an unquoted YAML value " #" starts a comment, which silently cuts
        // the text: an odd number of backticks is the usual trace of that.
        for (key, text) in [("en", en), ("zh", zh)] {
            if let text, text.filter({ $0 == "`" }).count % 2 == 1 {
                issue(m[key], "\(what).\(key) has an unclosed ` (was it cut by a ' #' comment? quote the value)")
            }
        }
        guard let en, let zh else { return nil }
        return Localized(en: en, zh: zh)
    }

    static let lessonKeys: Set<String> = ["skiff-lesson", "id", "title", "summary", "needs", "vars", "cleanup", "files", "steps"]
    static let stepKeys: Set<String> = ["id", "text", "command", "goal", "input", "show", "checks", "hints", "solution", "quiz"]
    static let questionKeys: Set<String> = ["question", "choices", "answer", "pattern", "example", "explanation"]

    static func isIdentifier(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64 && s.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" || $0 == "_" }
    }

    mutating func lesson(_ root: Node) -> Lesson? {
        guard let m = mapping(root, "lesson", allowed: Self.lessonKeys) else { return nil }
        guard let versionNode = m["skiff-lesson"] else {
            issue(root, "missing 'skiff-lesson: \(Lesson.formatVersion)' (the format version)")
            return nil
        }
        guard let version = int(versionNode, "skiff-lesson") else { return nil }
        guard version == Lesson.formatVersion else {
            issue(versionNode, "format version \(version) is not supported (this skiff reads version \(Lesson.formatVersion))")
            return nil
        }
        let id = string(m["id"], "id") ?? ""
        if m["id"] == nil { issue(root, "missing 'id'") }
        else if !Self.isIdentifier(id) { issue(m["id"], "id '\(id)' must be letters, digits, '-' or '_'") }
        if m["title"] == nil { issue(root, "missing 'title'") }
        let title = localized(m["title"], "title")
        let summary = localized(m["summary"], "summary")
        let needNodes = list(m["needs"], "needs")
        var needs: [String] = [], needsLines: [Int] = []
        for n in needNodes {
            if let s = string(n, "needs entry") { needs.append(s); needsLines.append(line(n)) }
        }
        var vars: [VarSpec] = []
        if let varsNode = m["vars"] {
            if case .mapping(let vm) = varsNode {
                for (k, v) in vm {
                    guard let name = k.scalar?.string, Self.isIdentifier(name) else { issue(k, "vars: names must be letters, digits, '-' or '_'"); continue }
                    if let spec = varSpec(name, v) { vars.append(spec) }
                }
            } else { issue(varsNode, "vars must be a mapping of name: {choose: [...]} or {range: [LOW, HIGH]}") }
        }
        var images: [String] = []
        if let c = m["cleanup"], let cm = mapping(c, "cleanup", allowed: ["images"]) {
            images = strings(cm["images"], "cleanup.images")
        }
        var files: [LessonFile] = []
        for (i, node) in list(m["files"], "files").enumerated() {
            let what = "files[\(i + 1)]"
            guard let fm = mapping(node, what, allowed: ["path", "text"]) else { continue }
            guard let path = string(fm["path"], "\(what).path"), let text = string(fm["text"], "\(what).text") else {
                issue(node, "\(what): needs 'path' and 'text'")
                continue
            }
            if let problem = LessonFiles.problem(path) { issue(fm["path"], "\(what).path: \(problem)"); continue }
            if files.contains(where: { $0.path == path }) { issue(fm["path"], "\(what).path '\(path)' is given twice") }
            files.append(LessonFile(path: path, text: text))
        }
        var steps: [Step] = []
        var stepIDs: Set<String> = []
        let stepNodes = list(m["steps"], "steps")
        if m["steps"] == nil || stepNodes.isEmpty { issue(m["steps"] ?? root, "a lesson needs at least one step") }
        for (i, node) in stepNodes.enumerated() {
            if let step = step(node, index: i) {
                if stepIDs.contains(step.id) { issue(node, "step id '\(step.id)' is used twice") }
                stepIDs.insert(step.id)
                steps.append(step)
            }
        }
        let known = Set(vars.map(\.name))
        hasFiles = !files.isEmpty
        checkTemplates(root, known: known)
        guard let title else { return nil }
        return Lesson(file: file, id: id, title: title, summary: summary, needs: needs, vars: vars,
                      cleanupImages: images, steps: steps, needsLines: needsLines, files: files)
    }

    mutating func varSpec(_ name: String, _ node: Node) -> VarSpec? {
        guard let m = mapping(node, "vars.\(name)", allowed: ["choose", "range", "step"]) else { return nil }
        var spec = VarSpec(name: name, choices: [], range: nil, step: int(m["step"], "vars.\(name).step") ?? 1)
        if spec.step < 1 { issue(m["step"], "vars.\(name).step must be at least 1"); spec.step = 1 }
        if let c = m["choose"] {
            spec.choices = strings(c, "vars.\(name).choose")
            if spec.choices.isEmpty { issue(c, "vars.\(name).choose needs at least one value") }
        } else if let r = m["range"] {
            let bounds = list(r, "vars.\(name).range").compactMap { int($0, "vars.\(name).range") }
            if bounds.count == 2, bounds[0] <= bounds[1] { spec.range = bounds[0]...bounds[1] }
            else { issue(r, "vars.\(name).range must be [LOW, HIGH] with LOW <= HIGH") }
        } else {
            issue(node, "vars.\(name) needs 'choose' or 'range'")
            return nil
        }
        return spec
    }

    mutating func step(_ node: Node, index: Int) -> Step? {
        let what = "steps[\(index + 1)]"
        guard let m = mapping(node, what, allowed: Self.stepKeys) else { return nil }
        let id = string(m["id"], "\(what).id") ?? "step-\(index + 1)"
        if let idNode = m["id"], !Self.isIdentifier(id) { issue(idNode, "\(what).id '\(id)' must be letters, digits, '-' or '_'") }
        if m["text"] == nil { issue(node, "\(what): missing 'text'") }
        let text = localized(m["text"], "\(what).text")
        let command = string(m["command"], "\(what).command")
        if let command, command.trimmingCharacters(in: " \t").isEmpty { issue(m["command"], "\(what).command is empty") }
        let goal = bool(m["goal"], "\(what).goal") ?? false
        var show: [ViewKind] = [.ns, .cgroups, .layers]
        if let s = m["show"] {
            show = []
            for name in strings(s, "\(what).show") {
                if let v = ViewKind(rawValue: name) { show.append(v) }
                else { issue(s, "\(what).show: unknown view '\(name)' (known: ns, cgroups, layers, none)") }
            }
        }
        let checks = list(m["checks"], "\(what).checks").enumerated().compactMap { check($0.element, "\(what).checks[\($0.offset + 1)]") }
        let hints = list(m["hints"], "\(what).hints").enumerated().compactMap { localized($0.element, "\(what).hints[\($0.offset + 1)]") }
        let solution = strings(m["solution"], "\(what).solution")
        let quiz = list(m["quiz"], "\(what).quiz").enumerated().compactMap { question($0.element, "\(what).quiz[\($0.offset + 1)]") }
        if goal && checks.isEmpty { issue(node, "\(what): a goal step needs checks") }
        if goal && solution.isEmpty { issue(node, "\(what): a goal step needs a solution (the autopilot types it)") }
        if goal && command != nil { issue(m["command"], "\(what): a goal step shows no command; put it in 'solution'") }
        if !quiz.isEmpty && (command != nil || !checks.isEmpty) { issue(node, "\(what): a quiz step has no command or checks") }
        if command == nil && !goal && !checks.isEmpty && solution.isEmpty {
            issue(node, "\(what): checks without a command need a solution (the autopilot types it)")
        }
        guard let text else { return nil }
        return Step(id: id, line: line(node), text: text, command: command, goal: goal,
                    input: string(m["input"], "\(what).input"), show: show, checks: checks, hints: hints,
                    solution: solution.isEmpty ? (command.map { [$0] } ?? []) : solution, quiz: quiz)
    }

    mutating func check(_ node: Node, _ what: String) -> Check? {
        guard case .mapping = node else { issue(node, "\(what) must be a mapping with a 'kind'"); return nil }
        guard let kindNode = node["kind"], let name = kindNode.scalar?.string else {
            issue(node, "\(what): missing 'kind'")
            return nil
        }
        guard let kind = Check.Kind(rawValue: name) else {
            issue(kindNode, "\(what): unknown check kind '\(name)' (known: \(Check.Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
            return nil
        }
        guard let m = mapping(node, "\(what) (\(name))", allowed: Check.allowed(kind)) else { return nil }
        for key in Check.required(kind) where m[key] == nil {
            issue(node, "\(what) (\(name)): missing '\(key)'")
        }
        var c = Check(kind: kind, line: line(node))
        c.container = string(m["container"], "\(what).container")
        c.exists = bool(m["exists"], "\(what).exists")
        c.status = string(m["status"], "\(what).status")
        if let s = c.status, !["running", "exited", "created"].contains(s) {
            issue(m["status"], "\(what).status must be running, exited or created")
        }
        c.type = string(m["type"], "\(what).type")
        if let t = c.type, !["pid", "mnt", "uts", "ipc", "net", "cgroup", "user", "time"].contains(t) {
            issue(m["type"], "\(what).type: unknown namespace type '\(t)'")
        }
        c.shared = bool(m["shared"], "\(what).shared")
        c.resource = string(m["resource"], "\(what).resource")
        if let r = c.resource, !["memory", "pids", "cpus"].contains(r) {
            issue(m["resource"], "\(what).resource must be memory, pids or cpus")
        }
        c.path = string(m["path"], "\(what).path")
        c.image = string(m["image"], "\(what).image")
        if let e = m["exec"] { c.exec = strings(e, "\(what).exec").flatMap { $0.split(separator: " ").map(String.init) } }
        if kind == .output && c.exec != nil && c.container == nil { issue(node, "\(what) (output): 'exec' needs a 'container'") }
        c.equals = string(m["equals"], "\(what).equals")
        c.contains = string(m["contains"], "\(what).contains")
        c.pattern = string(m["pattern"], "\(what).pattern")
        if let p = c.pattern, (try? Regex(p)) == nil { issue(m["pattern"], "\(what).pattern is not a valid regular expression") }
        c.field = string(m["field"], "\(what).field")
        if let f = c.field, !Check.configFields.contains(f) {
            issue(m["field"], "\(what).field must be one of \(Check.configFields.joined(separator: ", "))")
        }
        if [.file, .output, .imageConfig, .imageFile].contains(kind), c.equals == nil && c.contains == nil && c.pattern == nil && c.exists != false {
            issue(node, "\(what) (\(name)): give 'equals', 'contains' or 'pattern'")
        }
        c.min = int(m["min"], "\(what).min")
        c.change = string(m["change"], "\(what).change")
        if let change = c.change, !["A", "C", "D"].contains(change) {
            issue(m["change"], "\(what).change must be A, C or D")
        }
        if kind == .containerCount && c.min == nil && c.equals == nil { issue(node, "\(what) (container_count): give 'equals' or 'min'") }
        if kind == .imageLayers || kind == .exitCode || (kind == .containerCount && c.equals != nil), let e = c.equals, Int(e) == nil {
            issue(m["equals"], "\(what).equals must be a whole number")
        }
        c.why = localized(m["why"], "\(what).why")
        return c
    }

    mutating func question(_ node: Node, _ what: String) -> Question? {
        guard let m = mapping(node, what, allowed: Self.questionKeys) else { return nil }
        if m["question"] == nil { issue(node, "\(what): missing 'question'") }
        let prompt = localized(m["question"], "\(what).question")
        let choices = list(m["choices"], "\(what).choices").enumerated().compactMap { localized($0.element, "\(what).choices[\($0.offset + 1)]") }
        let answer = int(m["answer"], "\(what).answer")
        let pattern = string(m["pattern"], "\(what).pattern")
        let example = string(m["example"], "\(what).example")
        var q = Question(line: line(node), prompt: prompt ?? Localized(en: "", zh: ""), choices: choices, answer: answer,
                         pattern: pattern, example: example, explanation: localized(m["explanation"], "\(what).explanation"))
        if m["choices"] != nil {
            if choices.count < 2 { issue(m["choices"], "\(what): a multiple-choice question needs at least two choices") }
            if let a = answer, !(1...max(choices.count, 1)).contains(a) { issue(m["answer"], "\(what).answer must be between 1 and \(choices.count)") }
            if answer == nil { issue(node, "\(what): missing 'answer' (the number of the right choice)") }
            if pattern != nil { issue(m["pattern"], "\(what): give 'choices' or 'pattern', not both") }
        } else if let pattern {
            if (try? Regex(pattern)) == nil { issue(m["pattern"], "\(what).pattern is not a valid regular expression") }
            else if example == nil { issue(node, "\(what): a typed answer needs an 'example' that matches its pattern") }
            else if !q.accepts(example!) { issue(m["example"], "\(what).example '\(example!)' does not match its pattern") }
        } else {
            issue(node, "\(what): give 'choices' and 'answer', or 'pattern' and 'example'")
        }
        if prompt == nil { q.prompt = Localized(en: "?", zh: "?") ; return nil }
        return q
    }

    /// Every {{name}} must be a declared var or a built-in.
    mutating func checkTemplates(_ node: Node, known: Set<String>) {
        switch node {
        case .scalar(let s):
            for name in Template.names(in: s.string) where !known.contains(name) && !Template.isBuiltin(name) {
                issue(node, "unknown variable {{\(name)}} (declare it under 'vars')")
            }
            if !hasFiles && Template.names(in: s.string).contains("files") && !known.contains("files") {
                issue(node, "{{files}} is the lesson's files directory: the lesson needs a 'files' section")
            }
        case .mapping(let m):
            for (_, v) in m { checkTemplates(v, known: known) }
        case .sequence(let s):
            for v in s { checkTemplates(v, known: known) }
        default:
            break
        }
    }
}
