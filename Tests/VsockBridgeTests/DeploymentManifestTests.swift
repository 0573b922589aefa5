import Foundation
import Testing

@testable import BridgeEnclave
@testable import VsockBridge

@Suite struct DeploymentManifestTests {
    static func parse(_ json: String) throws(DeploymentManifest.Error) -> DeploymentManifest {
        try DeploymentManifest.parse(Array(json.utf8))
    }

    @Test func emptyObjectGivesTheDocumentedDefaults() throws {
        let m = try Self.parse("{}")
        #expect(m.bridge.port == 7050)
        #expect(m.bridge.heartbeatMs == 1000)
        #expect(m.bridge.missedHeartbeats == 3)
        #expect(m.bridge.ingressPool == 32)
        #expect(m.enclave.cid == 16)
        #expect(m.enclave.debugMode == false)
        #expect(m.host.adminHost == "127.0.0.1" && m.host.adminPort == 9090)
        #expect(m.ingress.isEmpty && m.egress.allow.isEmpty && m.egress.proxyPort == nil)
    }

    @Test func theAPILimitsHaveDefaultsAndCanBeSet() throws {
        let d = try #require(try Self.parse(#"{"api": {}}"#).api)
        #expect(d.attestationPerMinute == 600 && d.attestationBurst == 60)
        #expect(d.attestationSlots == 256 && d.anonymousAttestationSlots == 128)
        #expect(d.tenantMaxQueuedJobs == 10_000 && d.tenantMaxBytesInFlight == 256 * 1024 * 1024)
        let m = try #require(
            try Self.parse(
                #"{"api": {"attestationPerMinute": 6, "attestationBurst": 2, "attestationSlots": 8, "anonymousAttestationSlots": 0, "tenantMaxQueuedJobs": 3, "tenantMaxBytesInFlight": 65536}}"#
            ).api)
        #expect(m.attestationPerMinute == 6 && m.attestationBurst == 2)
        #expect(m.attestationSlots == 8 && m.anonymousAttestationSlots == 0)
        #expect(m.tenantMaxQueuedJobs == 3 && m.tenantMaxBytesInFlight == 65536)
    }

    @Test func theShippedManifestsParse() throws {
        for name in ["emulation.json", "example.json"] {
            let path = #filePath.components(separatedBy: "/Tests/")[0] + "/Manifests/" + name
            let bytes = try #require(FileManager.default.contents(atPath: path), "\(path)")
            _ = try DeploymentManifest.parse(Array(bytes))
        }
    }

    @Test func aFullManifestParses() throws {
        let m = try Self.parse("""
            {"name": "prod", "attestation": {"pcrs": {}},
             "enclave": {"eif": "/x.eif", "cpuCount": 4, "memoryMiB": 2048, "cid": 20, "debugMode": true},
             "bridge": {"port": 9000, "heartbeatMs": 500, "missedHeartbeats": 5, "ingressPool": 64, "maxFrameBytes": 65536},
             "ingress": [{"listen": "0.0.0.0:443", "enclavePort": 8443}, {"listen": "[::1]:80", "enclavePort": 80, "workload": "echo-hash"}],
             "egress": {"proxyPort": 3128, "allow": ["KMS.us-east-1.amazonaws.com.:443", "[2001:db8::1]:8443"]},
             "host": {"admin": "127.0.0.1:9191", "ingressHoldMs": 100, "bootTimeoutMs": 1000, "restartMinMs": 50, "restartMaxMs": 500, "drainMs": 0}}
            """)
        #expect(m.name == "prod")
        #expect(m.enclave.cpuCount == 4 && m.enclave.memoryMiB == 2048 && m.enclave.cid == 20 && m.enclave.debugMode)
        #expect(m.bridge.port == 9000 && m.bridge.maxFrameBytes == 65536)
        #expect(m.ingress.count == 2)
        #expect(m.ingress[1].listenHost == "::1" && m.ingress[1].workload == "echo-hash")
        #expect(m.egress.allow.permits(host: "kms.us-east-1.amazonaws.com", port: 443))
        #expect(m.egress.allow.permits(host: "2001:db8::1", port: 8443))
        #expect(!m.egress.allow.permits(host: "kms.us-east-1.amazonaws.com", port: 80))
        #expect(m.host.adminPort == 9191 && m.host.drainMs == 0)
    }

    @Test func theKMSSectionNamesTheKeyAndItsEndpointIsAllowedToTheEnclavesEgress() throws {
        let m = try Self.parse(#"{"kms": {"region": "eu-west-1", "key": "arn:aws:kms:eu-west-1:111122223333:key/abc"}, "recovery": {"keys": ["\#(String(repeating: "0f", count: 32))"]}}"#)
        let kms = try #require(m.kms)
        #expect(kms.region == "eu-west-1")
        #expect(kms.endpointHost == "kms.eu-west-1.amazonaws.com")
        #expect(kms.endpointPort == 443)
        #expect(m.recoveryKeys == [[UInt8](repeating: 0x0F, count: 32)])
        #expect(m.egressDestinations(emulated: false).permits(host: "kms.eu-west-1.amazonaws.com", port: 443))
        #expect(!m.egressDestinations(emulated: false).permits(host: "kms.us-east-1.amazonaws.com", port: 443))
        // A VPC endpoint, or a local test server, by name.
        let vpc = try Self.parse(#"{"kms": {"region": "eu-west-1", "key": "arn:aws:kms:eu-west-1:111122223333:alias/master", "endpoint": "vpce-1.kms.eu-west-1.vpce.amazonaws.com:8443"}}"#)
        #expect(vpc.kms?.endpointHost == "vpce-1.kms.eu-west-1.vpce.amazonaws.com")
        #expect(vpc.kms?.endpointPort == 8443)
        #expect(vpc.kms?.isAWSEndpoint == true)
        #expect(vpc.kms?.account == "111122223333")
        let elsewhere = try Self.parse(#"{"kms": {"region": "eu-west-1", "key": "arn:aws:kms:eu-west-1:111122223333:alias/m", "endpoint": "kms.example.com:443"}}"#)
        #expect(elsewhere.kms?.isAWSEndpoint == false, "a name the Amazon roots may certify for a customer")
        // No kms section: none on Nitro, the emulated default in emulation.
        let none = try Self.parse("{}")
        #expect(none.effectiveKMS(emulated: false) == nil)
        #expect(none.effectiveKMS(emulated: true) == .emulationDefault)
        #expect(none.egressDestinations(emulated: false).isEmpty)
        #expect(none.egressDestinations(emulated: true).permits(host: "kms.us-east-1.amazonaws.com", port: 443))
    }

    @Test func buildsListTheAuthorisedBuilds() throws {
        let a = String(repeating: "a1", count: 48)
        let b = String(repeating: "b2", count: 48)
        let m = try Self.parse(#"{"builds": [{"PCR0": "\#(a)", "PCR1": "\#(a)", "PCR2": "\#(a)"}, {"PCR8": "\#(b)"}]}"#)
        #expect(m.builds.count == 2)
        #expect(m.builds[0][2] == [UInt8](repeating: 0xA1, count: 48))
        #expect(m.builds[1] == [8: [UInt8](repeating: 0xB2, count: 48)])
        #expect(try Self.parse("{}").builds.isEmpty)
        for (json, reason) in [
            (#"{"builds": [{"PCR0": "\#(a)", "colour": 1}]}"#, "\"colour\" is not a PCR name"),
            (#"{"builds": [{"PCR0": "\#(a)"}, {"PCR0": "\#(a)"}]}"#, "builds[1] repeats builds[0]"),
            (#"{"builds": {"PCR0": "\#(a)"}}"#, "must be an array"),
        ] {
            do {
                _ = try Self.parse(json)
                Issue.record("accepted \(json)")
            } catch {
                #expect(error.path == "builds")
                #expect(error.reason.contains(reason), "\(error.reason)")
            }
        }
    }

    @Test(arguments: [
        (#"{"colour": 1}"#, "colour"),
        (#"{"api": {"port": 8080}}"#, "api.port"),
        (#"{"api": {"listen": "8080"}}"#, "api.listen"),
        (#"{"api": {"maxBodyBytes": 0}}"#, "api.maxBodyBytes"),
        (#"{"api": {"maxBodyBytes": 262145}}"#, "api.maxBodyBytes"),
        (#"{"api": {"leaseMs": 100}}"#, "api.leaseMs"),
        (#"{"api": {"waitMs": -1}}"#, "api.waitMs"),
        (#"{"api": {"attestationPerMinute": 0}}"#, "api.attestationPerMinute"),
        (#"{"api": {"attestationBurst": 1.5}}"#, "api.attestationBurst"),
        (#"{"api": {"attestationBurst": "60"}}"#, "api.attestationBurst"),
        (#"{"api": {"attestationSlots": 65537}}"#, "api.attestationSlots"),
        (#"{"api": {"anonymousAttestationSlots": -1}}"#, "api.anonymousAttestationSlots"),
        (#"{"api": {"attestationSlots": 4, "anonymousAttestationSlots": 4}}"#, "api.anonymousAttestationSlots"),
        (#"{"api": {"tenantMaxQueuedJobs": 0}}"#, "api.tenantMaxQueuedJobs"),
        (#"{"api": {"tenantMaxQueuedJobs": 50001}}"#, "api.tenantMaxQueuedJobs"),
        (#"{"api": {"tenantMaxBytesInFlight": 0}}"#, "api.tenantMaxBytesInFlight"),
        (#"{"api": {"maxBodyBytes": 2048, "tenantMaxBytesInFlight": 2047}}"#, "api.tenantMaxBytesInFlight"),
        (#"{"api": {"listen": "127.0.0.1:9090"}}"#, "api.listen"),
        (#"{"api": {"listen": "127.0.0.1:8443"}, "ingress": [{"listen": "127.0.0.1:8443", "enclavePort": 1}]}"#, "api.listen"),
        (#"{"api": []}"#, "api"),
        (#"{"enclave": {"cpus": 2}}"#, "enclave.cpus"),
        (#"{"bridge": {"port": 0}}"#, "bridge.port"),
        (#"{"bridge": {"port": "7050"}}"#, "bridge.port"),
        (#"{"bridge": {"heartbeatMs": 1.5}}"#, "bridge.heartbeatMs"),
        (#"{"bridge": {"maxFrameBytes": 999999999}}"#, "bridge.maxFrameBytes"),
        (#"{"enclave": {"cid": 3}}"#, "enclave.cid"),
        (#"{"enclave": {"debugMode": "yes"}}"#, "enclave.debugMode"),
        (#"{"ingress": {"listen": "x"}}"#, "ingress"),
        (#"{"ingress": [{"listen": "127.0.0.1", "enclavePort": 1}]}"#, "ingress[0].listen"),
        (#"{"ingress": [{"listen": "127.0.0.1:80"}]}"#, "ingress[0]"),
        (#"{"ingress": [{"listen": "127.0.0.1:80", "enclavePort": 1, "tls": true}]}"#, "ingress[0].tls"),
        (#"{"ingress": [{"listen": "127.0.0.1:80", "enclavePort": 1}, {"listen": "0.0.0.0:80", "enclavePort": 2}]}"#, "ingress[1].listen"),
        (#"{"egress": {"proxyPort": 3128, "allow": ["no-port"]}}"#, "egress.allow[0]"),
        (#"{"egress": {"proxyPort": 3128, "allow": [443]}}"#, "egress.allow[0]"),
        (#"{"egress": {"allow": ["a.example:443"]}}"#, "egress"),
        (#"{"host": {"restartMinMs": 5000, "restartMaxMs": 100}}"#, "host"),
        (#"{"host": {"admin": "127.0.0.1:9090"}, "ingress": [{"listen": "127.0.0.1:9090", "enclavePort": 1}]}"#, "ingress"),
        (#"{"kms": {"key": "alias/x"}}"#, "kms.region"),
        (#"{"kms": {"region": "US East", "key": "alias/x"}}"#, "kms.region"),
        (#"{"kms": {"region": "us-east-1"}}"#, "kms.key"),
        (#"{"kms": {"region": "us-east-1", "key": "has space"}}"#, "kms.key"),
        (#"{"kms": {"region": "us-east-1", "key": "alias/master"}}"#, "kms.key"),
        (#"{"kms": {"region": "us-east-1", "key": "1234abcd-12ab-34cd-56ef-1234567890ab"}}"#, "kms.key"),
        (#"{"kms": {"region": "eu-west-1", "key": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}"#, "kms.key"),
        (#"{"kms": {"region": "us-east-1", "key": "arn:aws:kms:us-east-1:1111:key/k"}}"#, "kms.key"),
        (#"{"kms": {"region": "us-east-1", "key": "arn:aws:iam::111122223333:key/k"}}"#, "kms.key"),
        (#"{"kms": {"region": "us-east-1", "key": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "endpoint": "no-port"}}"#, "kms.endpoint"),
        (#"{"kms": {"region": "us-east-1", "key": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "keyPolicy": {}}}"#, "kms.keyPolicy"),
        (#"{"recovery": {"keys": ["00"]}}"#, "recovery.keys[0]"),
        (#"{"recovery": {"keys": [7]}}"#, "recovery.keys[0]"),
        (#"{"recovery": {"keys": ["\#(String(repeating: "ab", count: 32))", "\#(String(repeating: "ab", count: 32))"]}}"#, "recovery.keys[1]"),
        (#"{"recovery": {"key": []}}"#, "recovery.key"),
        (#"[]"#, ""),
        (#"{"enclave": []}"#, "enclave"),
        ("{", ""),
        ("", ""),
    ] as [(String, String)])
    func badManifestsAreRefusedNamingTheKey(json: String, path: String) {
        #expect(throws: DeploymentManifest.Error.self) { try Self.parse(json) }
        do {
            _ = try Self.parse(json)
        } catch {
            #expect(error.path == path, "\(error)")
        }
    }

    @Test func anOversizedFileIsRefusedBeforeParsing() {
        let big = "{\"name\": \"" + String(repeating: "a", count: DeploymentManifest.maxFileSize) + "\"}"
        #expect(throws: DeploymentManifest.Error.self) { try Self.parse(big) }
    }
}

@Suite struct EgressAllowlistTests {
    @Test func namesCompareWithoutCaseOrTrailingDot() throws {
        let list = try EgressAllowlist(["Api.Example.com:443", "10.0.0.1:5432", "[fd00::1]:22"])
        #expect(list.permits(host: "api.example.com", port: 443))
        #expect(list.permits(host: "API.EXAMPLE.COM.", port: 443))
        #expect(!list.permits(host: "api.example.com", port: 444))
        #expect(!list.permits(host: "evil.api.example.com", port: 443))
        #expect(!list.permits(host: "example.com", port: 443))
        #expect(list.permits(host: "10.0.0.1", port: 5432))
        #expect(list.permits(host: "fd00::1", port: 22))
        #expect(!list.permits(host: "10.0.0.2", port: 5432))
    }

    @Test(arguments: ["", "host", "host:", ":443", "host:0", "host:65536", "ho st:1", "*.example.com:443", "[::1:443", "a:b:c"])
    func malformedEntriesAreRefused(entry: String) {
        #expect(throws: EgressAllowlist.Error.self) { try EgressAllowlist([entry]) }
    }
}

@Suite struct ConnectRequestTests {
    @Test func aConnectHeadGivesItsDestination() throws {
        let r = ConnectRequestReader.parse("CONNECT kms.example.com:443 HTTP/1.1\r\nHost: kms.example.com:443\r\nProxy-Connection: keep-alive")
        let (host, port) = try r.get()
        #expect(host == "kms.example.com" && port == 443)
        #expect(try ConnectRequestReader.parse("CONNECT [::1]:8443 HTTP/1.0").get() == ("::1", 8443))
    }

    @Test(arguments: [
        ("GET http://x/ HTTP/1.1", "405"),
        ("CONNECT x:443 HTTP/2", "400"),
        ("CONNECT x HTTP/1.1", "400"),
        ("CONNECT x:0 HTTP/1.1", "400"),
        ("CONNECT  x:443 HTTP/1.1", "400"),
        ("", "400"),
        ("CONNECT x:443", "400"),
    ])
    func malformedHeadsGetAnHTTPError(head: String, status: String) {
        guard case .failure(let e) = ConnectRequestReader.parse(head) else {
            Issue.record("accepted \(head)")
            return
        }
        #expect(e.status.hasPrefix(status))
    }
}
