import SkiffCommon
import SkiffEngine

/// `skiff doctor --probes`: the escape probes as a table. Exits 1 when any
/// probe got out (with --privileged, some always do: that is the lesson).
enum ProbeTable {
    static func run(_ engine: Engine, privileged: Bool) throws(SkiffError) -> Int32 {
        var announced = false
        let results = try engine.runProbes(privileged: privileged) { _ in
            // Said once the first container ran, so a refusal (not root) comes alone.
            if !announced { print("Running \(privileged ? "the probes in --privileged containers" : "the escape probes in default containers")…") }
            announced = true
        }
        let rows = results.map { r in
            [r.name, r.verdict.rawValue, r.verdict == .allowed ? "-" : r.layer.summary,
             r.verdict == .allowed ? "-" : r.layer.flag, r.detail]
        }
        print(table(["PROBE", "RESULT", "STOPPED BY", "FLAG THAT WOULD CHANGE IT", "SEEN"], rows))
        let out = results.filter { !$0.held }
        print(out.isEmpty ? "All \(results.count) probes held."
                          : "\(out.count) of \(results.count) probes got through: \(out.map(\.name).joined(separator: ", ")).")
        return out.isEmpty ? 0 : 1
    }
}
