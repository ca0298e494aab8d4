import Glibc
import SkiffCommon
import SkiffEngine
import SkiffImages

/// Runs one command line of the CLI in this process, against `engine`
/// (supplied by the `skiff` executable, which owns the CLI's parser).
public typealias CommandRunner = ([String], Engine) -> Int32

/// SIGINT sets this; the REPL and long-running tutor commands poll it.
nonisolated(unsafe) public var tutorInterrupted: sig_atomic_t = 0

/// The tutor's state and everything a learner's line can do. The REPL and
/// the autopilot drive the same session, so they print the same screens.
public final class TutorSession {
    public let engine: Engine
    public let library: LessonLibrary
    public let store: ProgressStore?
    public var progress: Progress
    public var screen: Screen
    let runner: CommandRunner
    /// Asks a yes/no question (the REPL reads a line; the autopilot says no).
    public var confirm: (String) -> Bool = { _ in false }
    /// Standard input for the next command (the autopilot's `input`).
    var pendingInput: String?
    var lastOutput = ""
    var quizIndex = 0
    /// Where lessons' files directories live (`{{files}}` is FILESROOT/ID):
    /// beside the progress file; the autopilot sets a temporary one.
    public var filesRoot: String?

    public enum Outcome { case stay, quit }

    public init(engine: Engine, library: LessonLibrary, store: ProgressStore?, progress: Progress,
                screen: Screen, runner: @escaping CommandRunner) {
        self.engine = engine
        self.library = library
        self.store = store
        self.progress = progress
        self.screen = screen
        self.runner = runner
        filesRoot = store.map { $0.directory + "/files" }
        if progress.current.flatMap(library.lesson) == nil {
            self.progress.current = library.lessons.first { !progress[lesson: $0.id].done }?.id ?? library.lessons.first?.id
        }
    }

    var lang: Language { progress.lang }
    func t(_ en: String, _ zh: String) -> String { lang == .zh ? zh : en }

    public var currentLesson: Lesson? { progress.current.flatMap(library.lesson) }
    public var currentStep: Step? {
        guard let lesson = currentLesson else { return nil }
        let state = progress[lesson: lesson.id]
        return state.done || state.step >= lesson.steps.count ? nil : lesson.steps[state.step]
    }
    func values(_ lesson: Lesson?) -> [String: String] {
        var values: [String: String] = [:]
        for c in engine.list(all: true) { values["shortid." + c.name] = String(c.id.prefix(6)) }
        guard let lesson else { return values }
        if let files = filesDirectory(lesson) { values["files"] = files }
        return values.merging(Template.draw(lesson.vars, seed: progress.seed, lesson: lesson.id)) { _, drawn in drawn }
    }

    /// The lesson's files directory, when it has starter files.
    func filesDirectory(_ lesson: Lesson) -> String? {
        lesson.files.isEmpty ? nil : filesRoot.map { $0 + "/" + lesson.id }
    }

    /// Writes the lesson's starter files the learner does not have yet (all
    /// of them with `overwrite`) and says where they are.
    func prepareFiles(_ lesson: Lesson, overwrite: Bool = false) {
        guard let directory = filesDirectory(lesson) else { return }
        do {
            let written = try LessonFiles.writeStarters(lesson, values: values(lesson), in: directory, owner: store?.owner, overwrite: overwrite)
            if !written.isEmpty { screen.say(screen.dim(t("(wrote ", "(已写入 ") + written.joined(separator: ", ") + ")")) }
            screen.say(t("This lesson's files are in ", "这一课的文件在 ") + screen.bold(directory)
                + t(": open them in any editor, or use `write PATH TEXT` here.", ":可以用任何编辑器打开,也可以在这里用 `write 路径 文本`。"))
        } catch {
            screen.say(screen.red(t("could not write the lesson's files: ", "无法写入这一课的文件:") + error.message))
        }
    }

    /// `write PATH TEXT…`: TEXT (`\n` for a new line) becomes the file PATH
    /// of the lesson's files directory; then the step's checks run.
    func writeFile(_ args: [String]) {
        guard let lesson = currentLesson, let directory = filesDirectory(lesson) else {
            screen.say(screen.red(t("This lesson has no files directory.", "这一课没有文件目录。")))
            return
        }
        guard let path = args.first, args.count >= 2 else {
            screen.say(t("usage: write PATH TEXT (\\n in single quotes starts a new line; PATH is relative to \(directory))",
                         "用法:write 路径 文本(单引号里的 \\n 表示换行;路径相对于 \(directory))"))
            return
        }
        var text = args.dropFirst().joined(separator: " ").split(separator: "\\n", omittingEmptySubsequences: false).joined(separator: "\n")
        if !text.hasSuffix("\n") { text += "\n" }
        do {
            try LessonFiles.write(text, to: path, in: directory, owner: store?.owner)
            screen.say(t("wrote \(directory)/\(path)", "已写入 \(directory)/\(path)"))
        } catch {
            screen.say(screen.red(error.message))
            return
        }
        if let step = currentStep, !step.checks.isEmpty, !step.isQuiz, checker(lesson).run(step.checks).allSatisfy(\.passed) {
            completeStep()
        }
    }
    func fill(_ s: String) -> String { Template.fill(s, values(currentLesson)) }

    func save() {
        guard let store else { return }
        do { try store.save(progress) } catch {
            screen.say(screen.yellow(t("(could not save your progress: \(error.message))", "(无法保存进度:\(error.message))")))
        }
    }

    // MARK: Screens

    public func welcome() {
        screen.say(screen.bold(t("Welcome to Skiff's tutor.", "欢迎使用 Skiff 教程。")))
        screen.say(t("Type the commands each step asks for (with or without `docker` in front); after each one you see what the kernel now holds.",
                     "按每一步的要求输入命令(前面加不加 `docker` 都可以);每条命令之后,你会看到内核里现在有些什么。"))
        screen.say(t("`help` lists the tutor's commands, `lessons` the lessons; Ctrl-D or `quit` leaves, and you resume here next time.",
                     "`help` 列出教程自己的命令,`lessons` 列出所有课程;Ctrl-D 或 `quit` 退出,下次从这里继续。"))
        for issue in library.issues {
            screen.say(screen.yellow(t("skipped a broken lesson: ", "跳过一个有错误的课程:") + issue.description))
        }
        guard let lesson = currentLesson else {
            screen.say(t("No lessons found. Free play: every skiff command works here.", "没有找到课程。自由练习:这里可以使用所有 skiff 命令。"))
            return
        }
        let index = (library.lessons.firstIndex { $0.id == lesson.id } ?? 0) + 1
        let state = progress[lesson: lesson.id]
        let done = library.lessons.filter { progress[lesson: $0.id].done }.count
        screen.say("")
        if state.done {
            screen.say(t("You finished all \(done) of \(library.lessons.count) lessons. `lessons` lists them; `start ID` plays one again.",
                         "你已完成全部 \(library.lessons.count) 课中的 \(done) 课。`lessons` 列出课程,`start ID` 重新学习某一课。"))
            return
        }
        screen.say(t("You are in lesson \(index) of \(library.lessons.count), \"\(lesson.title.en)\", at step \(state.step + 1) of \(lesson.steps.count).",
                     "你在第 \(index) 课(共 \(library.lessons.count) 课)「\(lesson.title.zh)」,第 \(state.step + 1) 步(共 \(lesson.steps.count) 步)。"))
        prepareFiles(lesson)
        showStep()
    }

    public func showStep() {
        guard let lesson = currentLesson else { return }
        guard let step = currentStep else {
            screen.say(t("Lesson \"\(lesson.title.en)\" is done.", "「\(lesson.title.zh)」这一课已完成。"))
            return
        }
        let state = progress[lesson: lesson.id]
        screen.say("")
        screen.say(screen.bold(screen.cyan("── \(lesson.title.text(lang)) · " + t("step", "第") + " \(state.step + 1)/\(lesson.steps.count)" + t("", " 步") + " ──")))
        screen.say(fill(step.text.text(lang)).trimmingCharacters(in: " "))
        if step.isQuiz {
            quizIndex = min(quizIndex, step.quiz.count - 1)
            askQuestion(step.quiz[quizIndex], number: quizIndex + 1, of: step.quiz.count)
        } else if step.goal {
            screen.say(screen.yellow(t("Exercise: reach this goal with any commands; `check` tells how far you are, `hint` helps.",
                                       "练习:用任何命令达到这个目标;`check` 查看进度,`hint` 给提示。")))
        } else if let command = step.command {
            screen.say(t("  Type: ", "  请输入:") + screen.bold(fill(command)))
        } else if step.isReading {
            screen.say(screen.dim(t("(type `next` to go on)", "(输入 `next` 继续)")))
        }
    }

    func askQuestion(_ q: Question, number: Int, of count: Int) {
        screen.say(screen.bold(t("Question \(number)/\(count): ", "问题 \(number)/\(count):")) + fill(q.prompt.text(lang)))
        for (i, choice) in q.choices.enumerated() { screen.say("  \(i + 1)) \(fill(choice.text(lang)))") }
        screen.say(screen.dim(q.choices.isEmpty ? t("(type your answer)", "(输入你的答案)") : t("(type the number of your answer)", "(输入答案的编号)")))
    }

    // MARK: Input

    static let tutorCommands = ["lessons", "start", "next", "back", "hint", "solution", "check", "show", "reset",
                                "progress", "lang", "help", "quit", "exit", "write"]

    /// One line typed at the prompt.
    public func handle(_ line: String) -> Outcome {
        let trimmed = line.trimmingCharacters(in: " \t")
        if trimmed.isEmpty { return .stay }
        guard var words = CommandForm.split(trimmed) else {
            screen.say(screen.red(t("unbalanced quotes", "引号不成对")))
            return .stay
        }
        if words.first == "skiff" { words.removeFirst() }
        words = CommandForm.stripDocker(words)
        guard let first = words.first else { return .stay }

        if let step = currentStep, step.isQuiz, !Self.tutorCommands.contains(first) || (first == "start" && words.count == 1) {
            answer(trimmed, step)
            return .stay
        }
        switch first {
        case "quit", "exit":
            save()
            screen.say(t("Bye. Your progress is saved; `skiff tutor` brings you back here.", "再见。进度已保存;运行 `skiff tutor` 回到这里。"))
            return .quit
        case "help": help(words.dropFirst().first)
        case "lessons":
            if words.count > 1 { _ = runCLI(words) } else { listLessons() }
        case "start" where words.count == 2 && library.lesson(words[1]) != nil:
            startLesson(words[1])
        case "next": next()
        case "back": back()
        case "hint": hint()
        case "solution": solution()
        case "check": check(verbose: true)
        // `show WHAT CONTAINER` is the CLI's command (its output counts for the
        // step's checks); shorter forms pick defaults here.
        case "show" where words.count < 3: show(Array(words.dropFirst()))
        case "reset": reset()
        case "write": writeFile(Array(words.dropFirst()))
        case "progress": showProgress()
        case "lang":
            if words.count == 2, let l = Language(rawValue: words[1]) {
                progress.lang = l
                save()
                screen.say(t("Language: English.", "语言:简体中文。"))
                showStep()
            } else {
                screen.say(t("usage: lang en|zh", "用法:lang en|zh"))
            }
        case "tutor":
            screen.say(t("You are in the tutor already.", "你已经在教程里了。"))
        default:
            guard CommandForm.commands[first] != nil else {
                screen.say(screen.red(t("unknown command: \(first).", "未知命令:\(first)。")) + " " + t("Type `help` for the list.", "输入 `help` 查看命令列表。"))
                return .stay
            }
            learnerCommand(words)
        }
        return .stay
    }

    /// A CLI command typed while a step is open: run it, show the kernel,
    /// compare it with what the step asked for, run the step's checks.
    func learnerCommand(_ words: [String]) {
        let lesson = currentLesson
        // Filled in before the command runs: `{{shortid.NAME}}` of a container it removes.
        let askedBefore = currentStep.flatMap { $0.goal ? nil : $0.command }.flatMap { CommandForm(fill($0)) }
        _ = runCLI(words)
        guard let lesson, let step = currentStep, !step.isQuiz else { return }
        var equivalent = false
        if let asked = askedBefore, !step.goal {
            if let typed = CommandForm(words: words) {
                equivalent = typed == asked
                if !equivalent {
                    let diffs = typed.differences(from: asked, lang: lang)
                    screen.say(screen.yellow(t("That differs from what this step asks for: ", "这和这一步要求的命令不同:") + diffs.joined(separator: "; ")))
                }
            }
        }
        if !step.checks.isEmpty {
            let results = checker(lesson).run(step.checks)
            if results.allSatisfy(\.passed) {
                completeStep()
            } else if equivalent {
                report(results)
            } else if step.goal {
                let passed = results.filter(\.passed).count
                screen.say(screen.dim(t("(goal: \(passed) of \(results.count) checks pass; `check` shows which)", "(目标:\(results.count) 项检查通过了 \(passed) 项;`check` 查看详情)")))
            }
        } else if equivalent {
            completeStep()
        }
    }

    func checker(_ lesson: Lesson) -> Checker {
        Checker(engine: engine, lang: lang, values: values(lesson), lastOutput: lastOutput)
    }

    func report(_ results: [CheckResult]) {
        for r in results {
            if r.passed {
                screen.say(screen.green("  ✓ ") + r.what + ": " + r.actual)
            } else {
                screen.say(screen.red("  ✗ ") + r.what)
                screen.say("      " + t("expected: ", "期望:") + screen.green(r.expected))
                screen.say("      " + t("actual:   ", "实际:") + screen.red(r.actual))
                if let why = r.check.why { screen.say("      " + fill(why.text(lang))) }
            }
        }
    }

    /// Returns true when every check passes.
    @discardableResult
    func check(verbose: Bool) -> Bool {
        guard let lesson = currentLesson, let step = currentStep else {
            screen.say(t("No step is open: `lessons` lists the lessons.", "当前没有进行中的步骤:`lessons` 列出课程。"))
            return false
        }
        if step.isQuiz {
            screen.say(t("This step is a quiz: type your answer.", "这一步是小测验:请输入答案。"))
            return false
        }
        if step.checks.isEmpty {
            screen.say(t("This step has nothing to check: ", "这一步没有需要检查的内容:") + (step.command != nil ? t("type its command.", "输入它的命令。") : t("type `next`.", "输入 `next`。")))
            return false
        }
        let results = checker(lesson).run(step.checks)
        if verbose { report(results) }
        if results.allSatisfy(\.passed) {
            completeStep()
            return true
        }
        return false
    }

    func answer(_ reply: String, _ step: Step) {
        let q = step.quiz[min(quizIndex, step.quiz.count - 1)]
        if q.accepts(reply) {
            screen.say(screen.green(t("✓ Right.", "✓ 正确。")) + (q.explanation.map { " " + fill($0.text(lang)) } ?? ""))
            quizIndex += 1
            if quizIndex >= step.quiz.count {
                quizIndex = 0
                completeStep()
            } else {
                askQuestion(step.quiz[quizIndex], number: quizIndex + 1, of: step.quiz.count)
            }
        } else {
            screen.say(screen.red(t("✗ Not quite. Try again, or `hint`.", "✗ 不太对。再试一次,或者输入 `hint`。")))
        }
    }

    func completeStep() {
        guard let lesson = currentLesson else { return }
        var state = progress[lesson: lesson.id]
        screen.say(screen.green(t("✓ Step done.", "✓ 这一步完成了。")))
        state.step += 1
        state.hintsShown = 0
        quizIndex = 0
        if state.step >= lesson.steps.count {
            state.done = true
            progress[lesson: lesson.id] = state
            finishLesson(lesson)
        } else {
            progress[lesson: lesson.id] = state
            save()
            showStep()
        }
    }

    func finishLesson(_ lesson: Lesson) {
        let removed = removeContainers(of: lesson)
        save()
        screen.say("")
        screen.say(screen.bold(screen.green(t("Lesson \"\(lesson.title.en)\" complete!", "「\(lesson.title.zh)」这一课完成了!"))))
        if !removed.isEmpty {
            screen.say(screen.dim(t("Removed the containers this lesson left: ", "已删除本课留下的容器:") + removed.joined(separator: ", ")))
        }
        if let next = nextLesson(after: lesson) {
            screen.say(t("Next: \"\(next.title.en)\". Type `next` to begin it.", "下一课:「\(next.title.zh)」。输入 `next` 开始。"))
        } else {
            screen.say(t("That was the last lesson. Free play: every command still works here.", "这是最后一课。接下来可以自由练习。"))
        }
    }

    func nextLesson(after lesson: Lesson) -> Lesson? {
        let all = library.lessons
        let start = (all.firstIndex { $0.id == lesson.id } ?? -1) + 1
        return (all[start...] + all[..<min(start, all.count)]).first { !progress[lesson: $0.id].done }
    }

    /// Force-removes what this lesson made and is still there.
    @discardableResult
    func removeContainers(of lesson: Lesson) -> [String] {
        var state = progress[lesson: lesson.id]
        var removed: [String] = []
        for id in state.containers {
            guard let c = try? engine.container(id) else { continue }
            do {
                try engine.remove(id, force: true)
                removed.append(c.name)
            } catch {
                screen.say(screen.yellow(t("could not remove \(c.name): \(error.message)", "无法删除 \(c.name):\(error.message)")))
            }
        }
        state.containers = []
        progress[lesson: lesson.id] = state
        return removed
    }

    // MARK: Tutor commands

    func help(_ command: String?) {
        if let command, command != "help" {
            if CommandForm.commands[command] != nil {
                _ = runner([command, "--help"], engine)
                return
            }
            if let text = Self.helpTexts[command] { screen.say("\(command): " + text.text(lang)); return }
            screen.say(t("no help for \(command)", "没有 \(command) 的帮助"))
            return
        }
        screen.say(screen.bold(t("The tutor's commands:", "教程自己的命令:")))
        for name in ["lessons", "start", "next", "back", "hint", "solution", "check", "show", "reset", "write", "progress", "lang", "help", "quit"] {
            let padded = name + String(repeating: " ", count: max(0, 10 - name.count))
            screen.say("  " + screen.bold(padded) + Self.helpTexts[name]!.text(lang))
        }
        screen.say(screen.bold(t("Container commands (as Docker's; `help COMMAND` for flags):", "容器命令(与 Docker 相同;`help 命令` 查看参数):")))
        screen.say("  " + CommandForm.commands.keys.sorted().joined(separator: " "))
    }

    static let helpTexts: [String: Localized] = [
        "lessons": .init(en: "list the lessons, what they need and where you are", zh: "列出课程、先修要求和你的进度"),
        "start": .init(en: "start ID: open a lesson (start CONTAINER still starts a container)", zh: "start ID:打开一课(start 容器名 仍然启动容器)"),
        "next": .init(en: "go on to the next step, or the next lesson", zh: "进入下一步或下一课"),
        "back": .init(en: "go back one step", zh: "回到上一步"),
        "hint": .init(en: "one more hint for this step", zh: "这一步的下一条提示"),
        "solution": .init(en: "show the commands that solve this step", zh: "显示完成这一步的命令"),
        "check": .init(en: "run this step's checks against the live containers", zh: "对正在运行的容器检查这一步"),
        "show": .init(en: "show ns|cgroups|layers|all [CONTAINER]: what the kernel holds for a container", zh: "show ns|cgroups|layers|all [容器]:内核为容器保存的对象"),
        "reset": .init(en: "remove this lesson's containers and, if you agree, start it over", zh: "删除本课的容器,经你确认后从头开始"),
        "write": .init(en: "write PATH TEXT: put TEXT (\\n for a new line) in a file of the lesson's files directory", zh: "write 路径 文本:把文本(\\n 表示换行)写入这一课文件目录里的文件"),
        "progress": .init(en: "what you have done", zh: "你的学习进度"),
        "lang": .init(en: "lang en|zh: English or Simplified Chinese", zh: "lang en|zh:英文或简体中文"),
        "help": .init(en: "help [COMMAND]: this list, or one command's flags", zh: "help [命令]:本列表,或某个命令的参数"),
        "quit": .init(en: "leave (Ctrl-D too); you resume where you left", zh: "退出(也可按 Ctrl-D);下次从这里继续"),
    ]

    func listLessons() {
        for (i, lesson) in library.lessons.enumerated() {
            let state = progress[lesson: lesson.id]
            let mark = state.done ? screen.green("✓") : (lesson.id == progress.current ? screen.cyan("▶") : " ")
            let needs = lesson.needs.isEmpty ? "" : screen.dim(t("  (needs: ", "  (先修:") + lesson.needs.joined(separator: ", ") + ")")
            let where_ = !state.done && state.step > 0 ? screen.dim(t("  step \(state.step + 1)/\(lesson.steps.count)", "  第 \(state.step + 1)/\(lesson.steps.count) 步")) : ""
            screen.say(" \(mark) \(i + 1). \(screen.bold(lesson.id))  \(lesson.title.text(lang))\(needs)\(where_)")
        }
        for issue in library.issues { screen.say(screen.yellow("  ! " + issue.description)) }
        screen.say(screen.dim(t("`start ID` opens a lesson.", "`start ID` 打开一课。")))
    }

    public func startLesson(_ id: String) {
        guard let lesson = library.lesson(id) else {
            screen.say(screen.red(t("no lesson \(id)", "没有 \(id) 这一课")))
            return
        }
        let missing = lesson.needs.filter { !progress[lesson: $0].done }
        if !missing.isEmpty {
            screen.say(screen.yellow(t("This lesson builds on: \(missing.joined(separator: ", ")). You can go on anyway.",
                                       "这一课建立在以下课程之上:\(missing.joined(separator: ", "))。你也可以直接开始。")))
        }
        if progress[lesson: id].done { progress[lesson: id] = Progress.LessonState() }
        progress.current = id
        quizIndex = 0
        save()
        prepareFiles(lesson)
        showStep()
    }

    func next() {
        guard let lesson = currentLesson else { return }
        guard let step = currentStep else {
            if let next = nextLesson(after: lesson) { startLesson(next.id) }
            else { screen.say(t("All lessons are done.", "所有课程都完成了。")) }
            return
        }
        if step.isReading {
            completeStep()
        } else {
            screen.say(t("This step is not done yet: ", "这一步还没有完成:")
                + (step.isQuiz ? t("answer the question", "请回答问题") : step.goal ? t("reach the goal, then `check`", "达到目标后输入 `check`") : t("type its command", "输入它的命令"))
                + t("; `hint` or `solution` help.", ";`hint` 或 `solution` 可以帮你。"))
        }
    }

    func back() {
        guard let lesson = currentLesson else { return }
        var state = progress[lesson: lesson.id]
        if state.done { state.done = false; state.step = lesson.steps.count }
        state.step = max(0, state.step - 1)
        state.hintsShown = 0
        quizIndex = 0
        progress[lesson: lesson.id] = state
        save()
        showStep()
    }

    func hint() {
        guard let lesson = currentLesson, let step = currentStep else { return }
        var state = progress[lesson: lesson.id]
        guard state.hintsShown < step.hints.count else {
            screen.say(t("No more hints for this step; `solution` shows the answer.", "这一步没有更多提示了;`solution` 显示答案。"))
            return
        }
        screen.say(screen.yellow(t("Hint \(state.hintsShown + 1)/\(step.hints.count): ", "提示 \(state.hintsShown + 1)/\(step.hints.count):")) + fill(step.hints[state.hintsShown].text(lang)))
        state.hintsShown += 1
        progress[lesson: lesson.id] = state
        save()
    }

    func solution() {
        guard let step = currentStep else { return }
        if step.isQuiz {
            let q = step.quiz[min(quizIndex, step.quiz.count - 1)]
            screen.say(t("Answer: ", "答案:") + fill(q.autopilotReply))
            return
        }
        if step.solution.isEmpty { screen.say(t("Nothing to type: `next`.", "没有需要输入的命令:`next`。")); return }
        screen.say(t("One way:", "一种做法:"))
        for command in step.solution { screen.say("  " + screen.bold(fill(command))) }
    }

    func show(_ args: [String]) {
        var sections: [ExplainSection] = ExplainSection.allCases
        var rest = args
        if let first = rest.first, let named = ExplainSection.named(first) {
            sections = named
            rest.removeFirst()
        }
        guard let target = rest.first ?? engine.list(all: true).first?.id else {
            screen.say(t("No containers yet.", "还没有容器。"))
            return
        }
        do { screen.say(try engine.explain(target, sections: sections)) } catch {
            screen.say(screen.red(error.message))
        }
    }

    func reset() {
        guard let lesson = currentLesson else { return }
        let removed = removeContainers(of: lesson)
        for image in lesson.cleanupImages {
            if let ref = try? ImageReference(parsing: fill(image)), (try? engine.images.untag(ref)) == true {
                screen.say(t("removed image \(image)", "已删除镜像 \(image)"))
            }
        }
        if !removed.isEmpty { screen.say(t("Removed: ", "已删除:") + removed.joined(separator: ", ")) }
        if confirm(t("Clear your progress in \"\(lesson.title.en)\" and start it over? [y/N] ", "清除「\(lesson.title.zh)」的进度并从头开始吗?[y/N] ")) {
            progress[lesson: lesson.id] = Progress.LessonState()
            quizIndex = 0
            screen.say(t("Progress cleared.", "进度已清除。"))
            save()
            prepareFiles(lesson, overwrite: true)
            showStep()
        } else {
            save()
            screen.say(t("Progress kept.", "进度已保留。"))
        }
    }

    func showProgress() {
        let done = library.lessons.filter { progress[lesson: $0.id].done }.count
        screen.say(t("\(done) of \(library.lessons.count) lessons done.", "已完成 \(done)/\(library.lessons.count) 课。"))
        listLessons()
    }

    // MARK: Running CLI commands

    /// Runs one CLI command in-process, then prints what changed in the kernel.
    @discardableResult
    func runCLI(_ words: [String]) -> Int32 {
        let before = snapshot()
        let input = pendingInput
        pendingInput = nil
        let form = CommandForm(words: words)
        let tty = form.map { $0.options["-t"] != nil && ($0.command == "run" || $0.command == "exec") } ?? false
        var code: Int32 = 0
        var errors = ""
        if let form, form.command == "run" || form.command == "create", form.options["--privileged"] != nil {
            screen.say(screen.yellow(RefusalExplainer.privilegedWarning(lang: lang)))
        }
        fflush(nil)
        let stdinGuard = input.map { StdinReplacement($0) }
        if let form, form.command == "logs", form.options["-f"] != nil {
            code = followLogs(form)
            lastOutput = ""
        } else if tty {
            code = runner(words, engine)
            lastOutput = ""
        } else {
            let tee = OutputTee()
            let errorTee = OutputTee(fd: 2)
            code = runner(words, engine)
            errors = errorTee.finish()
            lastOutput = tee.finish()
        }
        stdinGuard?.restore()
        tutorInterrupted = 0
        if let form { explainRefusals(form, output: lastOutput + "\n" + errors, before: before) }
        showChanges(since: before)
        return code
    }

    /// `logs -f` that a Ctrl-C ends, returning to the prompt.
    func followLogs(_ form: CommandForm) -> Int32 {
        guard let name = form.positionals.first else { return runner(["logs"], engine) }
        var seen = 0
        let timestamps = form.options["-t"] != nil
        while true {
            var lines: [LogLine] = []
            do {
                try engine.logs(name, follow: false, tail: nil, timestamps: timestamps) { lines.append($0) }
            } catch {
                screen.say(screen.red(error.message))
                return 1
            }
            for line in lines.dropFirst(seen) {
                let text = (timestamps ? line.time + " " : "") + line.log
                try? Files.writeAll(line.stream == "stderr" ? 2 : 1, Array(text.utf8), what: "output")
            }
            seen = max(seen, lines.count)
            if tutorInterrupted != 0 {
                screen.say(screen.dim(t("(stopped following the log)", "(已停止跟随日志)")))
                return 130
            }
            guard let c = try? engine.container(name), c.isRunning else { return 0 }
            usleep(100_000)
        }
    }

    struct Seen: Equatable { var status: ContainerStatus; var pid: Int32 }

    func snapshot() -> [String: Seen] {
        Dictionary(engine.list(all: true).map { ($0.id, Seen(status: $0.state.status, pid: $0.state.pid)) }, uniquingKeysWith: { a, _ in a })
    }

    /// New and changed containers get a short kernel view (the same code as
    /// `skiff explain`); removed ones a line.
    func showChanges(since before: [String: Seen]) {
        let after = engine.list(all: true)
        let step = currentStep
        let sections: [ExplainSection] = (step?.show ?? [.ns, .cgroups, .layers]).compactMap {
            switch $0 {
            case .ns: return .namespaces
            case .cgroups: return .cgroups
            case .layers: return .layers
            case .none: return nil
            }
        }
        if let lesson = currentLesson {
            var state = progress[lesson: lesson.id]
            for c in after where before[c.id] == nil && !state.containers.contains(c.id) { state.containers.append(c.id) }
            progress[lesson: lesson.id] = state
        }
        let quiet = step?.show == [.none]
        for c in after.reversed() {
            let now = Seen(status: c.state.status, pid: c.state.pid)
            guard before[c.id] != now, !quiet else { continue }
            screen.say("")
            screen.say(screen.bold(screen.cyan(t("What the kernel now holds for \(c.name):", "内核里现在属于 \(c.name) 的对象:"))))
            if let text = try? engine.explainBrief(c.id, sections: sections) {
                screen.say(screen.dim(text))
            }
        }
        let ids = Set(after.map(\.id))
        for (id, _) in before where !ids.contains(id) && !quiet {
            screen.say(screen.dim(t("Container \(id.prefix(12)) is gone: its directory, upper dir and cgroups were removed.",
                                    "容器 \(id.prefix(12)) 已删除:它的目录、upper 目录和 cgroup 都没有了。")))
        }
        save()
    }
}
