import Foundation
import NitroAttestation
import Testing

@testable import SecureModule

@Suite struct RecipientKeyTests {
    @Test func aGeneratedKeyIsRSA2048AndFresh() throws {
        let (a, b) = (try RecipientKey.generate(), try RecipientKey.generate())
        #expect(a.publicKeyDER != b.publicKeyDER)
        // RSA-2048 SubjectPublicKeyInfo with exponent 65537 is 294 bytes.
        #expect(a.publicKeyDER.count == 294)
    }

    @Test func itsPublicKeyAndIdentifierAreWhatOpenSSLComputes() throws {
        let fixture = try OpenSSLEnvelopes()
        let key = try RecipientKey(pem: try fixture.privateKey())
        let spki = try OpenSSLEnvelopes.openssl(["pkey", "-in", fixture.directory.appendingPathComponent("recipient.key").path, "-pubout", "-outform", "DER"])
        #expect(key.publicKeyDER == spki)
        // openssl req writes the RFC 5280 method 1 identifier (SHA-1 of the key bits) into the certificate.
        let text = String(decoding: try OpenSSLEnvelopes.openssl([
            "x509", "-in", fixture.directory.appendingPathComponent("recipient.pem").path, "-noout", "-ext", "subjectKeyIdentifier",
        ]), as: UTF8.self)
        let hex = try #require(text.split(separator: "\n").last).filter { $0 != ":" && $0 != " " }.lowercased()
        #expect(key.subjectKeyIdentifiers.first.map { Hex.encode($0) } == hex)
        #expect(key.subjectKeyIdentifiers.contains(SHA.sha256(key.publicKeyDER)))
    }

    @Test func aKeyOtherThanRSA2048IsRefused() throws {
        let p384 = try P384Key.generate()
        #expect(throws: CMSError(.internalError, "")) { try RecipientKey(pem: try p384.privateKeyPEM()) }
        #expect(throws: CMSError(.internalError, "")) { try RecipientKey(pem: Array("not a key".utf8)) }
    }
}
