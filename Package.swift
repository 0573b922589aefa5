// swift-tools-version: 6.2
import PackageDescription

// Dependency weight decides the split: CBOR and NitroAttestation need only libcbor and libcrypto,
// so any Swift server (or the enclave itself) can verify attestation without pulling in NIO or HTTP.
let package = Package(
    name: "Cloister",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CBOR", targets: ["CBOR"]),
        .library(name: "NitroAttestation", targets: ["NitroAttestation"]),
        .library(name: "SecureModule", targets: ["SecureModule"]),
        .library(name: "EnclaveWire", targets: ["EnclaveWire"]),
        .library(name: "VsockBridge", targets: ["VsockBridge"]),
        .executable(name: "cloister", targets: ["cloister"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
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
        .target(
            name: "VsockBridge",
            dependencies: [
                "EnclaveWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "EnclaveWire",
            dependencies: ["CBOR", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .target(name: "SecureModule", dependencies: ["CBOR", "COpenSSL", "CNSM", "NitroAttestation"]),
        .executableTarget(
            name: "cloister",
            dependencies: [
                "NitroAttestation",
                "SecureModule",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "AttestationBenchmark",
            dependencies: ["NitroAttestation"],
            path: "Benchmarks/AttestationBenchmark"
        ),
        .testTarget(name: "CBORTests", dependencies: ["CBOR"]),
        .testTarget(name: "NitroAttestationTests", dependencies: ["NitroAttestation", "CBOR", "COpenSSL"]),
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
            dependencies: ["VsockBridge", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]
        ),
        .testTarget(name: "SecureModuleTests", dependencies: ["SecureModule", "NitroAttestation", "CBOR"]),
    ]
)
