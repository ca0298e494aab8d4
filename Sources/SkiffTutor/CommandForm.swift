/// A command line in a canonical form, so that equivalent spellings compare
/// equal: `docker run -it busybox sh`, `run -i -t busybox sh` and
/// `run --interactive --tty busybox sh` are one command. When the learner
/// types something else than the step asked for, `differences` says how.
public struct CommandForm: Equatable, Sendable {
    public var command: String
    /// Flags and options, each as its canonical (short if any) spelling.
    public var options: [String: [String]]
    /// Positional words: for run/create the image then the container's
    /// command; for exec the container then its command.
    public var positionals: [String]

    /// A flag: its spellings, whether it takes a value, what it means.
    public struct Flag: Sendable {
        public var names: [String]
        public var takesValue: Bool
        public var canonical: String { names[0] }
    }

    static let containerFlags: [Flag] = [
        .init(names: ["--name"], takesValue: true), .init(names: ["-e", "--env"], takesValue: true),
        .init(names: ["--env-file"], takesValue: true), .init(names: ["-v", "--volume"], takesValue: true),
        .init(names: ["-h", "--hostname"], takesValue: true), .init(names: ["-w", "--workdir"], takesValue: true),
        .init(names: ["--entrypoint"], takesValue: true), .init(names: ["-m", "--memory"], takesValue: true),
        .init(names: ["--pids-limit"], takesValue: true), .init(names: ["--cpus"], takesValue: true),
        .init(names: ["-i", "--interactive"], takesValue: false), .init(names: ["-t", "--tty"], takesValue: false),
        .init(names: ["--rm"], takesValue: false),
        // What the container may do (capabilities, seccomp, its root, its user).
        .init(names: ["--cap-add"], takesValue: true), .init(names: ["--cap-drop"], takesValue: true),
        .init(names: ["--privileged"], takesValue: false), .init(names: ["--read-only"], takesValue: false),
        .init(names: ["--security-opt"], takesValue: true), .init(names: ["-u", "--user"], takesValue: true),
        .init(names: ["--ulimit"], takesValue: true), .init(names: ["--group-add"], takesValue: true),
    ]

    /// Every command the REPL passes to the engine, with its flags.
    public static let commands: [String: [Flag]] = [
        "run": containerFlags + [.init(names: ["-d", "--detach"], takesValue: false)],
        "create": containerFlags,
        "start": [.init(names: ["-a", "--attach"], takesValue: false)],
        "stop": [.init(names: ["-t", "--time"], takesValue: true)],
        "restart": [.init(names: ["-t", "--time"], takesValue: true)],
        "kill": [.init(names: ["-s", "--signal"], takesValue: true)],
        "rm": [.init(names: ["-f", "--force"], takesValue: false)],
        "exec": [.init(names: ["-i", "--interactive"], takesValue: false), .init(names: ["-t", "--tty"], takesValue: false),
                 .init(names: ["-e", "--env"], takesValue: true), .init(names: ["-w", "--workdir"], takesValue: true)],
        "ps": [.init(names: ["-a", "--all"], takesValue: false), .init(names: ["-q", "--quiet"], takesValue: false)],
        "logs": [.init(names: ["-f", "--follow"], takesValue: false), .init(names: ["-t", "--timestamps"], takesValue: false),
                 .init(names: ["-n", "--tail"], takesValue: true)],
        "inspect": [], "explain": [], "diff": [], "wait": [], "pull": [],
        "doctor": [.init(names: ["--probes"], takesValue: false), .init(names: ["--privileged"], takesValue: false)],
        "images": [.init(names: ["-q", "--quiet"], takesValue: false)],
        "commit": [.init(names: ["-m", "--message"], takesValue: true)],
        "history": [.init(names: ["-q", "--quiet"], takesValue: false), .init(names: ["--no-trunc"], takesValue: false)],
        "tag": [], "show": [],
        "rmi": [.init(names: ["-f", "--force"], takesValue: false)],
        "save": [.init(names: ["-o", "--output"], takesValue: true)],
        "load": [.init(names: ["-i", "--input"], takesValue: true), .init(names: ["-q", "--quiet"], takesValue: false)],
        "build": buildFlags,
        // `image build|inspect|prune|…`: the subcommand is the first positional.
        "image": buildFlags,
    ]

    static let buildFlags: [Flag] = [
        .init(names: ["-t", "--tag"], takesValue: true), .init(names: ["-f", "--file"], takesValue: true),
        .init(names: ["--build-arg"], takesValue: true), .init(names: ["--no-cache"], takesValue: false),
        .init(names: ["--target"], takesValue: true), .init(names: ["-q", "--quiet"], takesValue: false),
    ]

    /// Tutor commands a lesson may use in `solution` (see `TutorSession.writeFile`).
    static let tutorActions: Set<String> = ["write"]

    /// Commands whose first positional starts the passthrough part.
    static let passthrough: Set<String> = ["run", "create", "exec"]

    /// Splits a line as a shell would for simple quoting ('…', "…", \x).
    public static func split(_ line: String) -> [String]? {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character? = nil
        var escaped = false
        for c in line {
            if escaped { current.append(c); escaped = false; continue }
            if let q = quote {
                if c == q { quote = nil } else if c == "\\" && q == "\"" { escaped = true } else { current.append(c) }
                continue
            }
            switch c {
            case "'", "\"": quote = c; inWord = true
            case "\\": escaped = true; inWord = true
            case " ", "\t", "\n":
                if inWord { words.append(current); current = ""; inWord = false }
            default: current.append(c); inWord = true
            }
        }
        if quote != nil || escaped { return nil }
        if inWord { words.append(current) }
        return words
    }

    /// `docker` in front is dropped: `docker ps` is `ps`.
    public static func stripDocker(_ words: [String]) -> [String] {
        words.first == "docker" ? Array(words.dropFirst()) : words
    }

    public init?(_ line: String) {
        guard let words = Self.split(line) else { return nil }
        self.init(words: words)
    }

    public init?(words raw: [String]) {
        let words = Self.stripDocker(raw)
        guard let command = words.first, let flags = Self.commands[command] else { return nil }
        self.command = command
        options = [:]
        positionals = []
        func flag(_ name: String) -> Flag? { flags.first { $0.names.contains(name) } }
        var i = 1
        while i < words.count {
            let word = words[i]
            if !positionals.isEmpty && Self.passthrough.contains(command) {
                positionals.append(word)
            } else if word == "--" {
                positionals += words[(i + 1)...]
                break
            } else if word.hasPrefix("--") {
                let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
                guard let f = flag(parts[0]) else { options[word, default: []].append(""); i += 1; continue }
                if f.takesValue {
                    if parts.count == 2 { options[f.canonical, default: []].append(parts[1]) }
                    else if i + 1 < words.count { options[f.canonical, default: []].append(words[i + 1]); i += 1 }
                    else { options[f.canonical, default: []].append("") }
                } else {
                    options[f.canonical, default: []].append("")
                }
            } else if word.hasPrefix("-") && word.count > 1 && Int(word) == nil {
                // Combined short flags: -it, -aq, -m64m.
                var letters = Array(word.dropFirst())
                while !letters.isEmpty {
                    let name = "-" + String(letters.removeFirst())
                    guard let f = flag(name) else { options[name, default: []].append(""); continue }
                    if f.takesValue {
                        if !letters.isEmpty { options[f.canonical, default: []].append(String(letters)); letters = [] }
                        else if i + 1 < words.count { options[f.canonical, default: []].append(words[i + 1]); i += 1 }
                        else { options[f.canonical, default: []].append("") }
                    } else {
                        options[f.canonical, default: []].append("")
                    }
                }
            } else {
                positionals.append(word)
            }
            i += 1
        }
        for key in options.keys { options[key]!.sort() }
        // busybox and busybox:latest are the same image.
        if Self.passthrough.contains(command) && command != "exec", let image = positionals.first, !image.contains(":") && !image.contains("@") {
            positionals[0] = image + ":latest"
        }
    }

    /// Why a lesson's command cannot be run by the tutor, or nil.
    public static func problem(_ line: String) -> String? {
        guard let words = split(line) else { return "command '\(line)': unbalanced quotes" }
        let stripped = stripDocker(words)
        guard let first = stripped.first else { return "empty command" }
        guard commands[first] != nil || tutorActions.contains(first) else { return "command '\(line)': '\(first)' is not a skiff command" }
        return nil
    }

    /// How `self` (what was typed) differs from `asked`, in plain words.
    public func differences(from asked: CommandForm, lang: Language) -> [String] {
        let zh = lang == .zh
        if command != asked.command {
            return [zh ? "你输入的是 `\(command)`,这一步要的是 `\(asked.command)`。" : "you typed `\(command)`; this step asks for `\(asked.command)`."]
        }
        var out: [String] = []
        for key in Set(asked.options.keys).union(options.keys).sorted() {
            let mine = options[key], theirs = asked.options[key]
            if mine == theirs { continue }
            let show = { (v: [String]) in v.filter { !$0.isEmpty }.joined(separator: ", ") }
            if mine == nil {
                out.append(zh ? "少了 \(key)\(show(theirs!).isEmpty ? "" : " " + show(theirs!))" : "you left out \(key)\(show(theirs!).isEmpty ? "" : " " + show(theirs!))")
            } else if theirs == nil {
                out.append(zh ? "多了 \(key)\(show(mine!).isEmpty ? "" : " " + show(mine!))" : "you added \(key)\(show(mine!).isEmpty ? "" : " " + show(mine!))")
            } else {
                out.append(zh ? "\(key) 的值是 \(show(mine!)),这一步要的是 \(show(theirs!))" : "\(key) is \(show(mine!)); this step asks for \(show(theirs!))")
            }
        }
        if positionals != asked.positionals {
            let a = positionals.joined(separator: " "), b = asked.positionals.joined(separator: " ")
            out.append(zh ? "参数是 `\(a)`,这一步要的是 `\(b)`" : "the arguments are `\(a)`; this step asks for `\(b)`")
        }
        return out
    }
}
