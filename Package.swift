// swift-tools-version: 6.2
import PackageDescription

// The bridge's host half and enclave half link the same things: the shared part, the wire, NIO and logging.
let bridgeHalfDependencies: [Target.Dependency] = [
    "VsockBridge", "EnclaveWire",
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
    .product(name: "Logging", package: "swift-log"),
]

// Dependency weight decides the split: CBOR and NitroAttestation need only libcbor and libcrypto,
// so any Swift server (or the enclave itself) can verify attestation without pulling in NIO or HTTP.
let package = Package(
    name: "Cloister",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CBOR", targets: ["CBOR"]),
        .library(name: "NitroAttestation", targets: ["NitroAttestation"]),
        .library(name: "SecureModule", targets: ["SecureModule"]),
        .library(name: "WebAuthn", targets: ["WebAuthn"]),
        .library(name: "EnclaveWire", targets: ["EnclaveWire"]),
        .library(name: "VsockBridge", targets: ["VsockBridge"]),
        .library(name: "BridgeHost", targets: ["BridgeHost"]),
        .library(name: "BridgeEnclave", targets: ["BridgeEnclave"]),
        .library(name: "EnclaveRuntime", targets: ["EnclaveRuntime"]),
        .library(name: "HostRuntime", targets: ["HostRuntime"]),
        .library(name: "CloisterClient", targets: ["CloisterClient"]),
        .library(name: "KeyService", targets: ["KeyService"]),
        .library(name: "AWSRequestSigning", targets: ["AWSRequestSigning"]),
        .library(name: "EmulatedKMS", targets: ["EmulatedKMS"]),
        .library(name: "AWSKMS", targets: ["AWSKMS"]),
        .library(name: "HTTPSClient", targets: ["HTTPSClient"]),
        .library(name: "TransparencyLog", targets: ["TransparencyLog"]),
        .executable(name: "cloister", targets: ["cloister"]),
        .executable(name: "cloister-host", targets: ["cloister-host"]),
        .executable(name: "cloister-enclave", targets: ["cloister-enclave"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // Tests only: an independent implementation to check HPKE and the key service's signatures against.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(
            name: "CCBOR",
            pkgConfig: "libcbor",
            providers: [.apt(["libcbor-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(name: "CBOR", dependencies: ["CCBOR"]),
        .target(name: "NitroAttestation", dependencies: ["CBOR", "COpenSSL"]),
        .target(name: "CNSM"),
        .target(name: "CLoopback"),
        // The bridge in three parts, so that the enclave binary holds none of the host's: what both sides share
        // (addresses, transports, frames, splicing, the manifest and its egress allowlist), the host half (the
        // bridge server, ingress listener and pool, egress connector) and the enclave half (ingress tunnels, the
        // egress proxy). Scripts/check-enclave-symbols checks the release enclave binary with `nm`.
        .target(
            name: "VsockBridge",
            dependencies: [
                "EnclaveWire", "NitroAttestation", "TransparencyLog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "BridgeHost",
            // Attestation and HMAC: every connection proves an attested boot before it is served.
            dependencies: bridgeHalfDependencies + ["NitroAttestation", "SecureModule"]
        ),
        .target(
            name: "BridgeEnclave",
            dependencies: bridgeHalfDependencies
        ),
        .target(
            name: "DNSStub",
            dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]
        ),
        // What runs inside the enclave. It must never depend on HostRuntime, BridgeHost, Hummingbird or GRDB: the
        // enclave binary is what the PCRs measure (Scripts/check-enclave-symbols).
        .target(
            name: "EnclaveRuntime",
            dependencies: [
                "VsockBridge", "BridgeEnclave", "EnclaveWire", "SecureModule", "NitroAttestation", "COpenSSL", "CLoopback", "AWSKMS", "AWSRequestSigning", "HTTPSClient",
                "TransparencyLog",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The key service workload (inside the enclave only): tenants' keys sealed under the master secret.
        .target(
            name: "KeyService",
            dependencies: [
                "EnclaveRuntime", "EnclaveWire", "WebAuthn", "SecureModule", "NitroAttestation", "CBOR", "COpenSSL",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "HostRuntime",
            dependencies: [
                "VsockBridge", "BridgeHost", "EnclaveWire", "NitroAttestation", "SecureModule", "DNSStub", "EmulatedKMS", "CBOR", "TransparencyLog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            // docs/openapi.json (through a link), compiled in: the installed host is one file, and serves it as is.
            resources: [.embedInCode("openapi.json")]
        ),
        // What a client links: attestation and response verification, the audit, and an HTTP client.
        .target(name: "CloisterClient", dependencies: ["EnclaveWire", "NitroAttestation", "SecureModule", "CBOR", "TransparencyLog"]),
        .executableTarget(
            name: "cloister-host",
            dependencies: ["HostRuntime", "EmulatedKMS", "AWSKMS", "VsockBridge", "BridgeHost", "NitroAttestation", "SecureModule", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "cloister-enclave",
            dependencies: ["EnclaveRuntime", "KeyService", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .target(
            name: "EnclaveWire",
            dependencies: ["CBOR", "NitroAttestation", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .target(name: "SecureModule", dependencies: ["CBOR", "COpenSSL", "CNSM", "NitroAttestation"]),
        // Passkeys: WebAuthn registrations and assertions, verified with the program keys' verifier. No I/O.
        .target(name: "WebAuthn", dependencies: ["CBOR", "NitroAttestation", "SecureModule"]),
        // AWS Signature Version 4 for the enclave's own calls to KMS. No I/O, no clock.
        .target(name: "AWSRequestSigning", dependencies: ["NitroAttestation", "SecureModule"]),
        // The emulated KMS, on the host only: what it answers the enclave with (CMS envelopes to a recipient key).
        // The emulated KMS (host side, emulation only): same protocol as AWS KMS, its keys a file on this machine.
        .target(
            name: "EmulatedKMS",
            dependencies: [
                "AWSKMS", "AWSRequestSigning", "SecureModule", "NitroAttestation", "CBOR", "COpenSSL",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The KMS JSON 1.1 protocol and its client, over any transport. No NIO: the messages are shared with the
        // emulated KMS on the host.
        .target(name: "AWSKMS", dependencies: ["AWSRequestSigning", "NitroAttestation"]),
        // One TLS HTTP/1.1 exchange over a channel that is already connected (the enclave's egress stream), checked
        // against the trust roots given and no others.
        .target(
            name: "HTTPSClient",
            dependencies: [
                "AWSKMS", "NitroAttestation", "COpenSSL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // A witness of deployment logs: follows a host's heads, cosigns the consistent ones, keeps evidence of the
        // others, and serves its newest cosignature. Runs outside the operator's control, beside the CLI.
        .target(
            name: "LogWitness",
            dependencies: [
                "CloisterClient", "TransparencyLog", "SecureModule", "NitroAttestation",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "cloister",
            dependencies: [
                "NitroAttestation",
                "SecureModule",
                "CloisterClient",
                "LogWitness",
                "TransparencyLog",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                "EnclaveWire",
                "CBOR",
                "AWSKMS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "AttestationBenchmark",
            dependencies: ["NitroAttestation"],
            path: "Benchmarks/AttestationBenchmark"
        ),
        // Scripts/bench-e2e's zero-trust key.sign requests, sealed and signed ahead of the load, and their check.
        .executableTarget(
            name: "ActionRequests",
            dependencies: [
                "CloisterClient", "SecureModule", "EnclaveWire", "NitroAttestation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/ActionRequests"
        ),
        // Scripts/soak's client: several tenants' mixed load of signed actions across kills, and its end-of-run checks.
        .executableTarget(
            name: "Soak",
            dependencies: [
                "CloisterClient", "SecureModule", "EnclaveWire", "NitroAttestation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/Soak"
        ),
        // Scripts/bench-audit's logs: real receipts and seals from a software secure module, in the binary form.
        .executableTarget(
            name: "AuditLogBuilder",
            dependencies: [
                "CloisterClient", "EnclaveRuntime", "EnclaveWire", "SecureModule", "NitroAttestation", "TransparencyLog",
            ],
            path: "Benchmarks/AuditLogBuilder"
        ),
        // Scripts/xaes-accumulated: the XAES-256-GCM spec's 1,000,000-round accumulated vector (a minute; not a test).
        .executableTarget(
            name: "XAESAccumulated", dependencies: ["SecureModule", "NitroAttestation", "COpenSSL"], path: "Benchmarks/XAESAccumulated"),
        .executableTarget(
            name: "BridgeBenchmark",
            dependencies: [
                "EnclaveRuntime",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/BridgeBenchmark"
        ),
        // Sockets and servers the tests of several modules share.
        .target(
            name: "CloisterTestSupport",
            dependencies: [
                "EnclaveRuntime", "EnclaveWire", "VsockBridge", "TransparencyLog", "SecureModule", "NitroAttestation",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Tests/Support"
        ),
        .testTarget(name: "CBORTests", dependencies: ["CBOR"]),
        .testTarget(name: "NitroAttestationTests", dependencies: ["NitroAttestation", "CBOR", "COpenSSL", "VsockBridge", "CloisterTestSupport"]),
        .testTarget(
            name: "EnclaveWireTests",
            dependencies: [
                "EnclaveWire", "CBOR",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "VsockBridgeTests",
            dependencies: ["VsockBridge", "BridgeHost", "BridgeEnclave", "EnclaveWire", "EnclaveRuntime", "CBOR", "CloisterTestSupport", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"), .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "DNSStubTests",
            dependencies: ["DNSStub", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]
        ),
        .testTarget(
            name: "RuntimeTests",
            dependencies: [
                "CloisterTestSupport", "VsockBridge", "EnclaveWire", "HostRuntime", "EnclaveRuntime", "CloisterClient", "NitroAttestation", "SecureModule",
                "KeyService", "CBOR", "AWSKMS", "EmulatedKMS", "TransparencyLog", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "CloisterClientTests",
            dependencies: [
                "CloisterClient", "TransparencyLog", "EnclaveRuntime", "EnclaveWire", "SecureModule", "NitroAttestation", "CBOR", "CloisterTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "LogWitnessTests", dependencies: ["LogWitness", "CloisterClient", "TransparencyLog", "SecureModule", "NitroAttestation", "CloisterTestSupport"]),
        .testTarget(name: "CloisterCLITests", dependencies: ["cloister", "AWSKMS", "NitroAttestation", "CloisterTestSupport"]),
        .testTarget(
            name: "HostRuntimeTests",
            dependencies: [
                "HostRuntime", "EnclaveWire", "TransparencyLog", "CBOR", "VsockBridge", "EnclaveRuntime", "SecureModule", "NitroAttestation", "CloisterTestSupport", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "EnclaveRuntimeTests",
            dependencies: [
                "EnclaveRuntime", "HostRuntime", "EnclaveWire", "VsockBridge", "SecureModule", "NitroAttestation", "CBOR", "CloisterTestSupport",
                "AWSKMS", "AWSRequestSigning", "EmulatedKMS", "TransparencyLog",
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "KeyServiceTests",
            dependencies: [
                "KeyService", "EnclaveRuntime", "EnclaveWire", "CloisterClient", "SecureModule", "NitroAttestation", "CBOR", "CloisterTestSupport", "WebAuthn",
                .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(name: "WebAuthnTests", dependencies: ["WebAuthn", "CBOR", "NitroAttestation", "SecureModule", "EnclaveWire", "CloisterTestSupport"]),
        .testTarget(
            name: "AWSRequestSigningTests",
            dependencies: ["AWSRequestSigning", "NitroAttestation", "CloisterTestSupport"],
            resources: [.copy("Vectors")]
        ),
        .testTarget(
            name: "EmulatedKMSTests",
            dependencies: [
                "EmulatedKMS", "AWSKMS", "AWSRequestSigning", "HTTPSClient", "SecureModule", "NitroAttestation", "COpenSSL", "CloisterTestSupport",
                .product(name: "Logging", package: "swift-log"), .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "AWSKMSTests",
            dependencies: ["AWSKMS", "AWSRequestSigning", "NitroAttestation", "CloisterTestSupport"]
        ),
        .testTarget(
            name: "HTTPSClientTests",
            dependencies: [
                "HTTPSClient", "AWSKMS", "AWSRequestSigning", "NitroAttestation", "CloisterTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The log's proofs and C2SP notes (signed note, checkpoint, cosignature). No I/O, no clock.
        .target(name: "TransparencyLog", dependencies: ["NitroAttestation", "SecureModule"]),
        .testTarget(
            name: "TransparencyLogTests",
            dependencies: ["TransparencyLog", "EnclaveWire", "NitroAttestation", "SecureModule"],
            resources: [.copy("Vectors")]
        ),
        .testTarget(
            name: "SecureModuleTests",
            dependencies: ["SecureModule", "NitroAttestation", "CBOR", "COpenSSL", "VsockBridge", "CloisterTestSupport", .product(name: "Crypto", package: "swift-crypto")],
            resources: [.copy("Vectors")]
        ),
    ]
)
