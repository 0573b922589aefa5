import AWSKMS
import AWSRequestSigning
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import NitroAttestation
import SecureModule

/// The emulated KMS over the wire AWS KMS speaks: HTTPS (a certificate the emulated root issued for the KMS
/// endpoint's name), the JSON 1.1 protocol (`POST /`, `X-Amz-Target: TrentService.<Op>`), SigV4 (service `kms`)
/// checked against the credentials the emulated role issued. Errors are `{"__type", "message"}` with AWS's names.
public struct EmulatedKMSServer: Sendable {
    public let kms: EmulatedKMS
    public let role: EmulatedRole
    public let host: String
    public let port: Int
    let tls: TLSConfiguration
    let logger: Logger
    /// The largest request body read.
    public static let maxBodyBytes = 256 * 1024

    /// `names`: what the certificate is valid for (the KMS endpoint's host name the enclave dials).
    public init(kms: EmulatedKMS, role: EmulatedRole, root: EmulatedRoot, names: [String], host: String = "127.0.0.1", port: Int = 0, logger: Logger) throws {
        self.kms = kms
        self.role = role
        self.host = host
        self.port = port
        self.logger = logger
        do {
            let key = try P384Key.generate()
            let certificate = try root.issueTLSServerCertificate(names: names, key: key)
            tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(try NIOSSLCertificate(bytes: certificate.der, format: .der))],
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: try key.privateKeyPEM(), format: .pem)))
        } catch {
            throw EmulatedKMSError(.tlsSetup, "the emulated KMS's TLS certificate: \(error)")
        }
    }

    /// The server, a `Service`; `onRunning` gets the bound port.
    public func application(onRunning: @escaping @Sendable (Int) -> Void = { _ in }) throws -> some ApplicationProtocol {
        let router = Router()
        router.post("/") { request, context -> Response in
            let body = try await request.body.collect(upTo: Self.maxBodyBytes)
            var headers = request.headers.map { SignableRequest.Header($0.name.rawName, $0.value) }
            if let authority = request.head.authority { headers.append(.init("Host", authority)) }
            let target = request.headers.first { $0.name.canonicalName == "x-amz-target" }?.value ?? ""
            // KMS speaks JSON 1.1 only.
            guard request.headers.first(where: { $0.name.canonicalName == "content-type" })?.value == "application/x-amz-json-1.1" else {
                let body = KMSErrorBody(type: "UnknownOperationException", message: "Content-Type must be application/x-amz-json-1.1")
                return Response(
                    status: .badRequest, headers: [.contentType: "application/x-amz-json-1.1"],
                    body: .init(byteBuffer: ByteBuffer(bytes: Array((try? JSONEncoder().encode(body)) ?? Data()))))
            }
            let (status, answer) = self.respond(target: target, headers: headers, body: Array(buffer: body))
            return Response(
                status: .init(code: status), headers: [.contentType: "application/x-amz-json-1.1"],
                body: .init(byteBuffer: ByteBuffer(bytes: answer)))
        }
        return Application(
            router: router, server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname(host, port: port), serverName: "cloister-emulated-kms"),
            onServerRunning: { channel in onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
    }

    /// One request as received (its `X-Amz-Target`, headers with `Host`, body): authenticated, done, answered
    /// (status, JSON body).
    public func respond(target: String, headers: [SignableRequest.Header], body: [UInt8], now: Int64 = Clock.milliseconds()) -> (Int, [UInt8]) {
        do throws(KMSError) {
            let principal = try authenticate(headers: headers, body: body, now: now / 1000)
            let decoder = JSONDecoder()
            let encoder = JSONEncoder()
            func decode<T: Decodable>(_ type: T.Type) throws(KMSError) -> T {
                do { return try decoder.decode(type, from: Data(body)) } catch { throw KMSError(.validation, "the request body: \(error)") }
            }
            let answer: any Encodable
            switch target {
            case "TrentService.Encrypt": answer = try kms.encrypt(try decode(KMSEncryptRequest.self), principal: principal)
            case "TrentService.Decrypt": answer = try kms.decrypt(try decode(KMSDecryptRequest.self), principal: principal, now: now)
            case "TrentService.GenerateRandom": answer = try kms.generateRandom(try decode(KMSGenerateRandomRequest.self), principal: principal, now: now)
            default: throw KMSError(.validation, "the emulated KMS does not offer \(target.prefix(64))")
            }
            logger.info("emulated KMS answered", metadata: ["operation": "\(target)", "principal": "\(principal)"])
            return (200, Array((try? encoder.encode(answer)) ?? Data("{}".utf8)))
        } catch {
            logger.warning("emulated KMS refused", metadata: ["operation": "\(target.prefix(64))", "code": "\(error.code.rawValue)", "reason": "\(error.message)"])
            let body = KMSErrorBody(code: error.code, message: error.message)
            return (error.code == .kmsInternal ? 500 : 400, Array((try? JSONEncoder().encode(body)) ?? Data("{}".utf8)))
        }
    }

    /// The principal whose credentials signed the request.
    func authenticate(headers: [SignableRequest.Header], body: [UInt8], now: Int64) throws(KMSError) -> String {
        let verifier: SigV4Verifier
        do { verifier = SigV4Verifier(signer: try SigV4Signer(region: kms.region, service: "kms")) } catch { throw KMSError(.kmsInternal, "\(error)") }
        var expired = false
        do {
            _ = try verifier.verify(SignableRequest(method: "POST", path: "/", headers: headers, body: body), now: now) { id in
                guard let (c, isExpired) = role.lookup(id) else { return nil }
                if isExpired {
                    expired = true
                    return nil
                }
                return try? AWSCredentials(accessKeyID: c.accessKeyID, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken)
            }
        } catch {
            if expired { throw KMSError(.expiredToken, "The security token included in the request is expired") }
            switch error.code {
            case .unknownAccessKey, .invalidToken: throw KMSError(.unrecognizedClient, "The security token included in the request is invalid. (\(error.message))")
            default: throw KMSError(.invalidSignature, "\(error.message)")
            }
        }
        return role.arn
    }
}
