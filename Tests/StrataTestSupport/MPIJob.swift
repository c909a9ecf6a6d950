import Foundation

/// `mpirun` on PATH, or nil (the multi-rank tests skip, saying so).
public let mpirunPath: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
    .split(separator: ":").map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }

/// What an `mpirun` job did: its exit status, every rank's output (merged), how long it ran.
public struct MPIRun: Sendable {
    public var status: Int32, output: String, seconds: Double, timedOut: Bool
    /// When mpirun exited (seconds since 1970).
    public var ended: Double
}

/// Runs `np` ranks of this very test binary, filtered to the worker test `filter`, with `variable`=`mode`
/// (and `environment`) passed to every rank; kills mpirun after `timeout` seconds (it forwards SIGTERM).
/// `--bind-to none`: ranks must not be pinned to cores the rest of the test suite shares.
public func runTestBinaryUnderMPI(
    np: Int, variable: String, mode: String, filter: String,
    environment extra: [String: String] = [:], timeout: Double
) throws -> MPIRun {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: mpirunPath!)
    var environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
    environment[variable] = mode
    process.environment = environment
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
    process.arguments =
        ["--oversubscribe", "--allow-run-as-root", "--bind-to", "none", "-np", "\(np)", "-x", variable]
        + extra.keys.sorted().flatMap { ["-x", $0] }
        + [binary, "--testing-library", "swift-testing", "--filter", filter]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    // Read on another thread: a hung job must not block the test in a read.
    let collected = OutputCollector()
    let reader = Thread { collected.append(pipe.fileHandleForReading.readDataToEndOfFile()) }
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    let start = Date()
    try process.run()
    reader.start()
    var timedOut = false
    if exited.wait(timeout: .now() + timeout) == .timedOut {
        timedOut = true
        process.terminate()
        if exited.wait(timeout: .now() + 5) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            exited.wait()
        }
    }
    let seconds = Date().timeIntervalSince(start)
    try? pipe.fileHandleForWriting.close()
    _ = collected.finished.wait(timeout: .now() + 5)
    return MPIRun(
        status: process.terminationStatus, output: collected.text, seconds: seconds, timedOut: timedOut,
        ended: start.timeIntervalSince1970 + seconds)
}

private final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    let finished = DispatchSemaphore(value: 0)
    func append(_ d: Data) {
        lock.withLock { data.append(d) }
        finished.signal()
    }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
