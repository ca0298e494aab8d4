import CShim
import Glibc
import SkiffCommon

// skiff-spawn: the only process that creates namespaces, mounts and
// pivot_roots. It is single-threaded plain Swift (no Foundation, no
// Dispatch), exec'd fresh by the engine, so fork/clone here is safe.

Trace.mark("spawn main")
_ = rootless // decided now, before any setns (Rootless.swift)
var arguments = CommandLine.arguments
var early: EarlyInit? = nil
if arguments.count > 1 && arguments[1] == "standby" { (arguments, early) = standBy(arguments) }
if arguments.count > 1 && arguments[1] == "probe-idmap" { probeIdmappedMount(arguments) }
if arguments.count > 1 && arguments[1] == "remove-in-range" { removeInRangeCommand(arguments) }
if arguments.count > 1 && arguments[1] == "chown-in-range" { chownInRangeCommand(arguments) }
// Rootless, what a container user gave to the subordinate range is removed inside it (--rm, Rootless.swift).
if rootless { Files.removeOutOfReach = { path in removeInRange([path]) == nil } }
let options = parseOptions(arguments)
// Nothing the caller had open reaches the container but stdio (and our
// status pipe and console socket, both close-on-exec).
// (A standby closed the rest before making its early init's pipes.)
if early == nil { skiff_close_from(options.consoleSocket == 4 || options.awaitCgroups ? 5 : statusOpen ? 4 : 3) }
if let unfit = early, !EarlyInit.fits(options) {
    unfit.discard()
    early = nil
}
// One that fits but died before it could go on is replaced by a new clone.
if var candidate = early {
    if candidate.goesOn() {
        early = candidate
    } else {
        candidate.discard()
        early = nil
    }
}
switch options.mode {
case .run: runContainer(options, early: early)
case .exec: execInContainer(options)
}
