import Testing
@testable import SkiffTutor

/// A minimal good lesson; tests change one thing in it at a time.
let goodLesson = """
skiff-lesson: 1
id: sample
title:
  en: A sample
  zh: 示例
needs: []
vars:
  box:
    choose: [a, b, c]
  n:
    range: [10, 20]
    step: 5
steps:
  - id: read
    text:
      en: Read this.
      zh: 读一读。
  - id: run
    text:
      en: Run {{box}}.
      zh: 运行 {{box}}。
    command: run -d --name {{box}} busybox sleep 60
    checks:
      - kind: container_status
        container: "{{box}}"
        status: running
    hints:
      - en: one
        zh: 一
      - en: two
        zh: 二
  - id: quiz
    text:
      en: Quiz.
      zh: 测验。
    quiz:
      - question:
          en: Pick two.
          zh: 选二。
        choices:
          - {en: one, zh: 一}
          - {en: two, zh: 二}
        answer: 2
      - question:
          en: Type upper.
          zh: 输入 upper。
        pattern: 'upper(dir)?'
        example: upper
  - id: goal
    goal: true
    text:
      en: Make {{box}} with {{n}} pids.
      zh: 创建 {{box}},{{n}} 个进程。
    checks:
      - kind: cgroup_limit
        container: "{{box}}"
        resource: pids
        equals: "{{n}}"
    solution: run -d --name {{box}} --pids-limit {{n}} busybox sleep 60
"""

func parse(_ text: String, file: String = "t.yaml") -> (Lesson?, [LessonIssue]) {
    LessonLoader.parse(text, file: file)
}

@Suite("Tutor: lesson parser")
struct TutorLessonParserTests {
    @Test func readsAGoodLesson() throws {
        let (lesson, issues) = parse(goodLesson)
        #expect(issues.isEmpty, "\(issues)")
        let l = try #require(lesson)
        #expect(l.id == "sample")
        #expect(l.title.zh == "示例")
        #expect(l.steps.map(\.id) == ["read", "run", "quiz", "goal"])
        #expect(l.steps[0].isReading)
        #expect(l.steps[1].command == "run -d --name {{box}} busybox sleep 60")
        #expect(l.steps[1].checks.first?.kind == .containerStatus)
        #expect(l.steps[1].hints.count == 2)
        #expect(l.steps[2].quiz.count == 2)
        #expect(l.steps[2].quiz[0].accepts("2") && !l.steps[2].quiz[0].accepts("1"))
        #expect(l.steps[2].quiz[1].accepts(" UpperDir ") && !l.steps[2].quiz[1].accepts("lower"))
        #expect(l.steps[3].goal && l.steps[3].autopilotCommands == ["run -d --name {{box}} --pids-limit {{n}} busybox sleep 60"])
        #expect(l.vars.map(\.name).sorted() == ["box", "n"])
        #expect(l.steps[1].line == 18, "steps carry their line for messages")
    }

    @Test func missingChineseTextIsReportedWithItsLine() {
        let text = goodLesson.replacingOccurrences(of: "      zh: 读一读。\n", with: "")
        let (lesson, issues) = parse(text)
        #expect(lesson == nil)
        #expect(issues.contains { $0.line == 16 && $0.message.contains("Chinese text (zh) is missing") }, "\(issues)")
    }

    @Test func textCutByAYAMLCommentIsCaught() {
        // Unquoted, " #" starts a comment: the text would end at "`/".
        let text = goodLesson.replacingOccurrences(of: "      en: Read this.\n", with: "      en: The prompt is `/ #` now.\n")
        let (lesson, issues) = parse(text)
        #expect(lesson == nil)
        #expect(issues.contains { $0.line == 16 && $0.message.contains("unclosed `") }, "\(issues)")
        let quoted = goodLesson.replacingOccurrences(of: "      en: Read this.\n", with: "      en: \"The prompt is `/ #` now.\"\n")
        #expect(parse(quoted).0 != nil)
    }

    @Test func unknownCheckKindIsAnError() {
        let text = goodLesson.replacingOccurrences(of: "kind: container_status", with: "kind: container_colour")
        let (_, issues) = parse(text)
        #expect(issues.contains { $0.line == 24 && $0.message.contains("unknown check kind 'container_colour'") }, "\(issues)")
    }

    @Test func upperChangeNeedsAChangeOfACOrD() {
        let good = goodLesson.replacingOccurrences(of: "kind: container_status\n", with: "kind: upper_change\n        path: /etc/passwd\n        change: C\n")
            .replacingOccurrences(of: "        status: running\n", with: "")
        let (lesson, issues) = parse(good)
        #expect(issues.isEmpty, "\(issues)")
        #expect(lesson?.steps.flatMap(\.checks).first { $0.kind == .upperChange }?.change == "C")
        let (_, bad) = parse(good.replacingOccurrences(of: "change: C", with: "change: X"))
        #expect(bad.contains { $0.message.contains("change must be A, C or D") }, "\(bad)")
    }

    @Test func wrongOrMissingVersion() {
        let (_, a) = parse(goodLesson.replacingOccurrences(of: "skiff-lesson: 1", with: "skiff-lesson: 7"))
        #expect(a.first?.message.contains("format version 7 is not supported") == true)
        #expect(a.first?.description.hasPrefix("t.yaml:1: ") == true)
        let (_, b) = parse(goodLesson.replacingOccurrences(of: "skiff-lesson: 1\n", with: ""))
        #expect(b.first?.message.contains("missing 'skiff-lesson") == true)
    }

    @Test func unknownKeysAndMissingFieldsOfAChecks() {
        let text = goodLesson.replacingOccurrences(of: "        status: running\n", with: "        colour: blue\n")
        let (_, issues) = parse(text)
        #expect(issues.contains { $0.message.contains("unknown key 'colour'") })
        #expect(issues.contains { $0.message.contains("missing 'status'") })
    }

    @Test func quizExampleMustMatchItsPattern() {
        let (_, issues) = parse(goodLesson.replacingOccurrences(of: "example: upper", with: "example: lower"))
        #expect(issues.contains { $0.message.contains("example 'lower' does not match") })
        let (_, range) = parse(goodLesson.replacingOccurrences(of: "answer: 2", with: "answer: 5"))
        #expect(range.contains { $0.message.contains("answer must be between 1 and 2") })
    }

    @Test func undeclaredVariablesAreCaught() {
        let (_, issues) = parse(goodLesson.replacingOccurrences(of: "Run {{box}}.", with: "Run {{boxx}}."))
        #expect(issues.contains { $0.line == 20 && $0.message.contains("unknown variable {{boxx}}") }, "\(issues)")
    }

    @Test func goalStepsNeedChecksAndASolution() {
        let text = goodLesson.replacingOccurrences(of: "    solution: run -d --name {{box}} --pids-limit {{n}} busybox sleep 60", with: "")
        let (_, issues) = parse(text)
        #expect(issues.contains { $0.message.contains("a goal step needs a solution") }, "\(issues)")
    }

    @Test(arguments: ["", ":", "- a\n- b", "skiff-lesson: [", "{{{{", "\u{0}\u{1}", "steps: &a [*a]",
                      String(repeating: "[", count: 5000), "skiff-lesson: 1\nid: x\ntitle: 3\nsteps: 4"])
    func malformedInputNeverCrashes(_ text: String) {
        let (lesson, issues) = parse(text)
        #expect(lesson == nil)
        #expect(!issues.isEmpty)
        #expect(issues.allSatisfy { $0.file == "t.yaml" && $0.line >= 0 })
    }

    @Test func oversizedFilesAreRefused() {
        let (lesson, issues) = parse(goodLesson + String(repeating: "# padding\n", count: 60_000))
        #expect(lesson == nil)
        #expect(issues.first?.message.contains("too large") == true)
    }
}
