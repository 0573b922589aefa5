import ArgumentParser
import Foundation
import NitroAttestation
import SecureModule

/// What the software module measures, as command-line options (shared by `measure` and `nsm`).
struct ImageOptions: ParsableArguments {
    @Option(help: "The enclave's manifest, measured into PCR0 and PCR2.")
    var manifest: String?

    @Option(name: .customLong("instance-id"), help: "The parent instance id, measured into PCR4.")
    var instanceID: String?

    @Option(name: .customLong("parent-role"), help: "The parent instance's IAM role ARN, measured into PCR3.")
    var parentRole: String?

    @Option(name: .customLong("signing-certificate"), help: ArgumentHelp("The image's signing certificate, measured into PCR8.", valueName: "PEM"))
    var signingCertificate: String?

    @Flag(help: "Debug mode: PCR0, PCR1 and PCR2 read as zero, as on Nitro.")
    var debug = false

    func image(executable path: String) throws -> EnclaveImage {
        let executable = try readFile(path, what: "image")
        var certificate: [UInt8]?
        if let signingCertificate {
            let pem = String(decoding: try readFile(signingCertificate, what: "signing certificate"), as: UTF8.self)
            guard let cert = try? X509Certificate.fromPEM(pem).first else { throw ValidationError("\(signingCertificate) holds no PEM certificate") }
            certificate = cert.der
        }
        return EnclaveImage(
            executable: executable, manifest: try manifest.map { try readFile($0, what: "manifest") }, parentRole: parentRole,
            instanceID: instanceID, signingCertificate: certificate, debug: debug)
    }
}

struct MeasureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "measure",
        abstract: "Print the PCRs the emulated secure module reports for a build, as nitro-cli build-enclave prints them.",
        discussion: """
            PCR0 measures the executable then the manifest, PCR1 the executable, PCR2 the manifest; each is \
            SHA384(48 zero bytes || SHA384(input)), as nitro-cli measures an EIF. Pin an emulated build with this output \
            exactly as a real build is pinned with nitro-cli's: cloister attestation verify --manifest FILE.
            """
    )

    @Argument(help: "The enclave executable (cloister-enclave).")
    var path: String

    @OptionGroup var image: ImageOptions

    func run() throws {
        print(try image.image(executable: path).nitroCLIJSON)
    }
}

struct NSMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nsm",
        abstract: "Use the secure module: /dev/nsm inside an enclave, the software emulator elsewhere.",
        subcommands: [Emulator.self, Describe.self, Attest.self]
    )

    /// Which module to open, and what the emulator measures.
    struct ModuleOptions: ParsableArguments {
        @Option(help: ArgumentHelp("Which module: auto (the device when /dev/nsm exists, else the emulator), device or software.", valueName: "auto|device|software"))
        var module: String = "auto"

        @Option(help: "The executable the software module measures (default: cloister-enclave beside this program, else this program).")
        var image: String?

        @Option(name: .customLong("state-dir"), help: ArgumentHelp("The emulator's state directory.", valueName: "DIR"))
        var stateDirectory: String = EmulatedRoot.defaultDirectory

        @OptionGroup var measured: ImageOptions

        func open() throws -> SecureModuleSelection.Opened {
            guard let selection = SecureModuleSelection(rawValue: module) else { throw ValidationError("--module must be auto, device or software") }
            let imagePath = image ?? defaultImagePath()
            let measured = self.measured
            let directory = stateDirectory
            do {
                let opened = try selection.open(
                    image: { () throws(NSMError) -> EnclaveImage in
                        do { return try measured.image(executable: imagePath) } catch { throw NSMError(.invalidArgument, "\(error)") }
                    },
                    root: { () throws(NSMError) -> EmulatedRoot in try EmulatedRoot.load(directory: directory) })
                printError(opened.description)
                return opened
            } catch {
                throw ValidationError("cannot open the secure module: \(error)")
            }
        }
    }

    struct Emulator: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create (init) or show (root) the emulated root CA of this machine.",
            discussion: """
                The root is created once per machine: root.pem and root-key.pem (mode 0600) in the state directory \
                ($CLOISTER_EMULATOR_DIR, else $XDG_STATE_HOME/cloister/emulator, else ~/.local/state/cloister/emulator). \
                Emulated documents verify only against this root: pass it to `cloister attestation verify --root`. \
                Whoever holds root-key.pem can forge emulated documents; emulation protects nothing from this machine's owner.
                """
        )

        @Argument(help: ArgumentHelp("init: create the root if there is none; root: print its path, fingerprint and PEM.", valueName: "init|root"))
        var action: String

        @Option(name: .customLong("state-dir"), help: ArgumentHelp("The state directory.", valueName: "DIR"))
        var stateDirectory: String = EmulatedRoot.defaultDirectory

        func run() throws {
            let root: EmulatedRoot
            switch action {
            case "init":
                let (r, created) = try wrap { () throws(NSMError) in try EmulatedRoot.loadOrCreate(directory: stateDirectory) }
                root = r
                print(created ? "created emulated root" : "emulated root already exists")
            case "root":
                root = try wrap { () throws(NSMError) in try EmulatedRoot.load(directory: stateDirectory) }
            default:
                throw ValidationError("the action must be init or root")
            }
            print("path     \(EmulatedRoot.certificatePath(stateDirectory))")
            print("subject  \(root.certificate.subject)")
            print("sha256   \(Hex.encode(root.certificate.sha256).uppercased())")
            if action == "root" { print(root.certificate.pem, terminator: "") }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Describe the secure module and its PCRs.")

        @OptionGroup var options: ModuleOptions

        func run() async throws {
            let module = try options.open().module
            let d = try await wrap { () async throws(NSMError) in try await module.describe() }
            print("module_id    \(d.moduleID)")
            print("version      \(d.versionMajor).\(d.versionMinor).\(d.versionPatch)")
            print("digest       \(d.digest.rawValue)")
            print("max_pcrs     \(d.maxPCRs)")
            print("locked_pcrs  \(d.lockedPCRs.map(String.init).joined(separator: ","))")
            for i in UInt16(0)..<d.maxPCRs {
                let (locked, value) = try await wrap { () async throws(NSMError) in try await module.describePCR(i) }
                if locked || value.contains(where: { $0 != 0 }) {
                    print("PCR\(i)".padding(toLength: 6, withPad: " ", startingAt: 0) + Hex.encode(value) + (locked ? "  locked" : ""))
                }
            }
        }
    }

    struct Attest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask the secure module for an attestation document and write it to a file (raw CBOR).")

        @Option(name: .customLong("user-data"), help: ArgumentHelp("user_data to bind.", valueName: "HEX"))
        var userData: String?

        @Option(help: ArgumentHelp("nonce to bind.", valueName: "HEX"))
        var nonce: String?

        @Option(name: .customLong("public-key"), help: ArgumentHelp("A file whose bytes are bound as public_key.", valueName: "FILE"))
        var publicKey: String?

        @Option(help: ArgumentHelp("Where to write the document.", valueName: "FILE"))
        var out: String

        @OptionGroup var options: ModuleOptions

        func run() async throws {
            func hexOption(_ value: String?, _ name: String) throws -> [UInt8]? {
                guard let value else { return nil }
                guard let bytes = Hex.decode(value) else { throw ValidationError("--\(name) must be hex") }
                return bytes
            }
            let userData = try hexOption(userData, "user-data")
            let nonce = try hexOption(nonce, "nonce")
            let key = try publicKey.map { try readFile($0, what: "public key") }
            let module = try options.open().module
            let document = try await wrap { () async throws(NSMError) in try await module.attestation(userData: userData, nonce: nonce, publicKey: key) }
            guard FileManager.default.createFile(atPath: out, contents: Data(document)) else {
                throw ValidationError("cannot write \(out)")
            }
            print("wrote \(document.count) bytes to \(out)")
        }
    }
}

/// `cloister-enclave` beside this executable when it exists, else this executable.
func defaultImagePath() -> String {
    let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    let enclave = me.deletingLastPathComponent().appendingPathComponent("cloister-enclave").path
    return FileManager.default.fileExists(atPath: enclave) ? enclave : me.path
}

/// Turns a secure-module error into a failure with a clear message and exit status 1.
func wrap<T>(_ body: () throws(NSMError) -> T) throws -> T {
    do { return try body() } catch {
        printError("error: \(error)")
        throw ExitCode(1)
    }
}

func wrap<T>(_ body: () async throws(NSMError) -> T) async throws -> T {
    do { return try await body() } catch {
        printError("error: \(error)")
        throw ExitCode(1)
    }
}
