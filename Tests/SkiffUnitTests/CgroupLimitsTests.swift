import Testing
import SkiffCommon
@testable import SkiffKernel

@Suite("Resource limit values")
struct CgroupLimitsTests {
    @Test("memory sizes in Docker's units", arguments: [
        ("100", 100),
        ("100b", 100),
        ("100B", 100),
        ("512k", 512 * 1024),
        ("512K", 512 * 1024),
        ("512kb", 512 * 1024),
        ("64m", 64 << 20),
        ("64M", 64 << 20),
        ("64mb", 64 << 20),
        ("64MiB", 64 << 20),
        ("64 m", 64 << 20),
        (" 64m\n", 64 << 20),
        ("1g", 1 << 30),
        ("1.5g", 3 << 29),
        ("0.5m", 512 * 1024),
        ("2t", 2 << 40),
        ("0", 0),
    ] as [(String, Int64)])
    func parseMemory(text: String, bytes: Int64) throws {
        #expect(try ResourceLimits.parseMemory(text) == bytes)
    }

    @Test("bad memory sizes are usage errors naming the value", arguments: [
        "", "m", "64x", "-64m", "1.2.3g", "64mm", "abc", "1.", ".5g", "64 mb b", "0x10", "99999999999999999999", "99999999p",
    ])
    func parseMemoryRejects(text: String) {
        #expect {
            try ResourceLimits.parseMemory(text)
        } throws: { error in
            let error = error as! SkiffError
            return error.kind == .usage && error.message.contains("\"\(text)\"") && !error.message.contains("\n")
        }
    }

    @Test("CPU counts become nanoCPUs", arguments: [
        ("0.5", 500_000_000),
        ("1", 1_000_000_000),
        ("2", 2_000_000_000),
        ("2.0", 2_000_000_000),
        ("0.01", 10_000_000),
        ("1.25", 1_250_000_000),
        (".5", 500_000_000),
        ("1.", 1_000_000_000),
        (" 0.75 ", 750_000_000),
        ("0.123456789", 123_456_789),
        ("1.000000000000", 1_000_000_000),
    ] as [(String, Int64)])
    func parseCpus(text: String, nano: Int64) throws {
        #expect(try ResourceLimits.parseCpus(text, availableCPUs: 2) == nano)
    }

    @Test("bad CPU counts are usage errors naming the value", arguments: [
        "", ".", "abc", "0", "0.0", "0.001", "3", "2.5", "-1", "1,5", "1.5.2", "0.0000000001", "1e3", "99999999999999",
    ])
    func parseCpusRejects(text: String) {
        #expect {
            try ResourceLimits.parseCpus(text, availableCPUs: 2)
        } throws: { error in
            let error = error as! SkiffError
            return error.kind == .usage && error.message.contains("\"\(text)\"") && !error.message.contains("\n")
        }
    }

    @Test("too many CPUs gives Docker's range message")
    func cpuRangeMessage() {
        #expect {
            try ResourceLimits.parseCpus("3", availableCPUs: 2)
        } throws: { error in
            (error as! SkiffError).message.contains("range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available")
        }
    }

    @Test("validate enforces Docker's 6 MB floor and positive values", arguments: [
        (ResourceLimits(memoryBytes: 1 << 20), "Minimum memory limit allowed is 6MB"),
        (ResourceLimits(memoryBytes: -1), "invalid memory limit"),
        (ResourceLimits(nanoCpus: -5), "invalid CPU limit"),
        (ResourceLimits(nanoCpus: 5_000_000), "range of CPUs"),
        (ResourceLimits(nanoCpus: 3_000_000_000), "only 2 CPUs"),
    ])
    func validateRejects(limits: ResourceLimits, message: String) {
        #expect {
            try limits.validate(availableCPUs: 2)
        } throws: { error in
            let error = error as! SkiffError
            return error.kind == .usage && error.message.contains(message)
        }
    }

    @Test("validate accepts unset, zero and in-range limits", arguments: [
        ResourceLimits(),
        ResourceLimits(memoryBytes: 0, pidsLimit: 0, nanoCpus: 0),
        ResourceLimits(memoryBytes: 6 << 20, pidsLimit: -1, nanoCpus: 10_000_000),
        ResourceLimits(memoryBytes: 64 << 20, pidsLimit: 20, nanoCpus: 2_000_000_000),
    ])
    func validateAccepts(limits: ResourceLimits) throws {
        try limits.validate(availableCPUs: 2)
    }

    @Test("CFS quota per 100 ms period", arguments: [
        (500_000_000, 50_000), (10_000_000, 1_000), (2_000_000_000, 200_000), (1_500_000_000, 150_000),
    ] as [(Int64, Int64)])
    func quota(nano: Int64, quota: Int64) {
        #expect(ResourceLimits.cpuQuotaMicroseconds(nanoCpus: nano) == quota)
    }

    @Test("nanoCPUs print as short decimals", arguments: [
        (500_000_000, "0.5"), (2_000_000_000, "2"), (10_000_000, "0.01"), (1_250_000_000, "1.25"), (-5, "-0.000000005"),
    ] as [(Int64, String)])
    func formatCpus(nano: Int64, text: String) {
        #expect(ResourceLimits.formatCpus(nano) == text)
    }

    @Test("this machine has at least one CPU")
    func onlineCPUs() {
        #expect(ResourceLimits.onlineCPUs >= 1)
    }
}
