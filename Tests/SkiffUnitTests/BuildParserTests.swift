import Foundation
import SkiffBuild
import SkiffCommon
import SkiffImages
import Testing

@Suite("build: Dockerfile parser")
struct BuildParserTests {
    @Test func instructionsCommentsAndContinuations() throws {
        let file = try Dockerfile.parse("""
            # a comment
            FROM busybox AS base
            RUN echo one \\
                # a comment inside is dropped
                two
            COPY --chown=1:2 --from=base a b /dst/
            CMD ["sh", "-c", "echo hi"]
            env A=1
            """)
        #expect(file.instructions.map(\.keyword) == ["FROM", "RUN", "COPY", "CMD", "ENV"])
        #expect(file.instructions[1].arguments == "echo one  two")
        #expect(file.instructions[1].line == 3)
        #expect(file.instructions[2].flags == ["chown": "1:2", "from": "base"])
        #expect(file.instructions[2].arguments == "a b /dst/")
        #expect(file.instructions[3].json == ["sh", "-c", "echo hi"])
        #expect(file.instructions[4].line == 8)
    }

    @Test func escapeDirectiveChangesTheContinuationCharacter() throws {
        let file = try Dockerfile.parse("# escape=`\nFROM busybox\nRUN echo a `\n b\nCOPY c:\\x \\y\n")
        #expect(file.escape == "`")
        #expect(file.instructions[1].arguments == "echo a  b")
        #expect(file.instructions[2].arguments == "c:\\x \\y")
    }

    @Test func byteOrderMarkAndWindowsLineEndings() throws {
        let file = try Dockerfile.parse("\u{FEFF}FROM busybox\r\nRUN echo a \\\r\n  b\r\n")
        #expect(file.instructions.map(\.keyword) == ["FROM", "RUN"])
        #expect(file.instructions[1].arguments == "echo a  b")
        #expect(DockerIgnore("*.log\r\n!keep.log\r\n").excludes("x.log"))
        #expect(!DockerIgnore("*.log\r\n!keep.log\r\n").excludes("keep.log"))
    }

    @Test func jsonFormThatIsNotJSONIsShellForm() throws {
        let file = try Dockerfile.parse("FROM busybox\nRUN [not json]\n")
        #expect(file.instructions[1].json == nil)
        #expect(file.instructions[1].arguments == "[not json]")
    }

    @Test(arguments: [
        ("FROM busybox\nFROB x\n", "Dockerfile:2: unknown instruction: FROB"),
        ("RUN echo\n", "Dockerfile:1: RUN before the first FROM"),
        ("FROM busybox\nCOPY onlyone\n", "Dockerfile:2: COPY needs at least a source and a destination"),
        ("FROM busybox\nSHELL /bin/bash\n", "Dockerfile:2: SHELL requires"),
        ("FROM busybox\nCOPY --frm=x a b\n", "Dockerfile:2: unknown flag: --frm"),
        ("# escape=x\nFROM busybox\n", "Dockerfile:1: invalid escape token"),
        ("# just a comment\n", "Dockerfile:1: the Dockerfile has no FROM"),
        ("FROM busybox\nONBUILD RUN x\n", "Dockerfile:2: ONBUILD is not supported"),
    ])
    func badInputNamesTheLine(text: String, message: String) {
        #expect {
            _ = try Dockerfile.parse(text)
        } throws: { error in
            (error as? SkiffError)?.message.hasPrefix(message) == true
        }
    }
}

@Suite("build: variable substitution")
struct BuildSubstitutionTests {
    let sub = Substitution(variables: ["NAME": "world", "EMPTY": "", "DIR": "/app"])

    @Test func variablesQuotesAndEscapes() throws {
        #expect(try sub.word("hello $NAME") == "hello world")
        #expect(try sub.word("${NAME}s") == "worlds")
        #expect(try sub.word("${MISSING:-dflt} ${EMPTY:-e} ${NAME:+set} ${MISSING:+x}") == "dflt e set ")
        #expect(try sub.word("'$NAME' \"$NAME\"") == "$NAME world")
        #expect(try sub.word("\\$NAME") == "$NAME")
        #expect(try sub.words("a \"b c\" $DIR/x") == ["a", "b c", "/app/x"])
        #expect(try Substitution(variables: ["X": "1"], escape: "`").word("`$X $X") == "$X 1")
    }

    @Test func envPairsBothForms() throws {
        let pairs = try sub.pairs("A=1 B=\"two words\" C=$NAME", instruction: "ENV")
        #expect(pairs.map { $0.0 + "=" + $0.1 } == ["A=1", "B=two words", "C=world"])
        let legacy = try sub.pairs("GREETING hello $NAME", instruction: "ENV")
        #expect(legacy.map { $0.0 + "=" + $0.1 } == ["GREETING=hello world"])
        #expect(throws: SkiffError.self) { try sub.pairs("A", instruction: "ENV") }
        #expect(throws: SkiffError.self) { try sub.word("${NAME") }
        #expect(throws: SkiffError.self) { try sub.word("'open") }
    }
}

@Suite("build: .dockerignore")
struct DockerIgnoreTests {
    @Test func patternsExceptionsAndDoubleStar() {
        let ignore = DockerIgnore("""
            # comment
            *.log
            /build
            **/secret*
            docs/**/*.md
            !docs/keep.md
            tmp?
            """)
        #expect(ignore.excludes("app.log"))
        #expect(!ignore.excludes("sub/app.log"))       // * stays in one component
        #expect(ignore.excludes("build/out/x"))        // a directory excludes what is below it
        #expect(ignore.excludes("secret.txt"))
        #expect(ignore.excludes("a/b/secret.key"))
        #expect(ignore.excludes("docs/a/b/readme.md"))
        #expect(ignore.excludes("docs/readme.md"))     // ** matches zero directories too
        #expect(!ignore.excludes("docs/keep.md"))      // ! re-includes, the last match wins
        #expect(ignore.excludes("tmp1"))
        #expect(!ignore.excludes("tmp12"))
        #expect(!ignore.excludes("src/main.c"))
    }

    @Test func laterLinesWin() {
        let ignore = DockerIgnore("!keep\n*\n")
        #expect(ignore.excludes("keep"))
        let again = DockerIgnore("*\n!keep\n")
        #expect(!again.excludes("keep"))
        #expect(again.excludes("other"))
    }

    @Test func contextPathsAreCleaned() {
        #expect(ContextPath.clean("./a//b/../c/") == ["a", "c"])
        #expect(ContextPath.clean("/etc/passwd") == ["etc", "passwd"])
        #expect(ContextPath.escapes("../x"))
        #expect(ContextPath.escapes("a/../../x"))
        #expect(!ContextPath.escapes("a/../b"))
    }
}

@Suite("build: cache keys")
struct BuildCacheKeyTests {
    @Test func keysDependOnParentStepAndContent() throws {
        let parent = Digest.of(Array("config".utf8))
        let other = Digest.of(Array("other".utf8))
        let key = BuildCache.key(parent: parent, step: "RUN /bin/sh -c echo hi")
        #expect(key == BuildCache.key(parent: parent, step: "RUN /bin/sh -c echo hi"))
        #expect(key != BuildCache.key(parent: other, step: "RUN /bin/sh -c echo hi"))
        #expect(key != BuildCache.key(parent: nil, step: "RUN /bin/sh -c echo hi"))
        #expect(key != BuildCache.key(parent: parent, step: "RUN /bin/sh -c echo ho"))
        #expect(key != BuildCache.key(parent: parent, step: "RUN /bin/sh -c echo hi", extras: ["V=1"]))
        #expect(BuildCache.key(parent: parent, step: "COPY a /", extras: ["content sha256:1"])
                != BuildCache.key(parent: parent, step: "COPY a /", extras: ["content sha256:2"]))
    }

    @Test func recordsAreMissesWhenTheirBlobsAreGone() throws {
        try withImageTestRoot { root in
            let store = ImageStore(root: root)
            let cache = BuildCache(store: store)
            let config = ImageConfig.scratch().child(runConfig: .init(env: ["A=1"]), layer: nil, createdBy: "ENV A=1")
            let manifest = try store.writeImageBlobs(config: config, adding: [])
            let key = BuildCache.key(parent: nil, step: "ENV A=1")
            #expect(cache.lookup(key) == nil)
            try cache.record(key, manifest: manifest.digest)
            let hit = try #require(cache.lookup(key))
            #expect(hit.config.config?.env == ["A=1"])
            #expect(hit.config.history?.last?.emptyLayer == true)
            #expect(unlink(store.blobPath(hit.configDigest)) == 0)
            #expect(cache.lookup(key) == nil)
        }
    }
}
