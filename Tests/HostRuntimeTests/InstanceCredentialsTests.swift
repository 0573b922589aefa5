import Foundation
@testable import HostRuntime
import Testing

/// Each credentials document with what parsing it must give: `nil` for success, or the exact error code.
struct CredentialsVector: Sendable, CustomTestStringConvertible {
    let name: String
    let body: String
    let expect: InstanceCredentialsErrorCode?
    var testDescription: String { name }

    static let received = Date(timeIntervalSince1970: 1_796_140_800)  // 2026-12-01T16:00:00Z

    static func document(_ edits: [String: String?]) -> String {
        var fields: [String: String] = [
            "Code": "Success", "LastUpdated": "2026-12-01T15:55:00Z", "Type": "AWS-HMAC", "AccessKeyId": "ASIAEXAMPLE",
            "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "Token": "IQoJb3JpZ2luX2VjEXAMPLE==",
            "Expiration": "2026-12-01T20:00:00Z",
        ]
        for (name, value) in edits { fields[name] = value }
        return String(decoding: try! JSONEncoder().encode(fields), as: UTF8.self)
    }

    static let all: [CredentialsVector] = [
        .init(name: "a complete document", body: document([:]), expect: nil),
        .init(name: "not JSON", body: "{\"Code\": \"Success\"", expect: .malformedJSON),
        .init(name: "an array", body: "[]", expect: .malformedJSON),
        .init(name: "a number for a string", body: #"{"Code":"Success","AccessKeyId":7}"#, expect: .malformedJSON),
        .init(name: "Code is Failure", body: document(["Code": "Failure"]), expect: .notSuccess),
        .init(name: "no Code", body: document(["Code": nil]), expect: .missingField),
        .init(name: "no AccessKeyId", body: document(["AccessKeyId": nil]), expect: .missingField),
        .init(name: "no SecretAccessKey", body: document(["SecretAccessKey": nil]), expect: .missingField),
        .init(name: "no Token", body: document(["Token": nil]), expect: .missingField),
        .init(name: "an empty Token", body: document(["Token": ""]), expect: .missingField),
        .init(name: "no Expiration", body: document(["Expiration": nil]), expect: .missingField),
        .init(
            name: "a Token past its bound",
            body: document(["Token": String(repeating: "A", count: 9000)]),
            expect: .malformedField
        ),
        .init(name: "a space in AccessKeyId", body: document(["AccessKeyId": "ASIA EXAMPLE"]), expect: .malformedField),
        .init(name: "Expiration not a date", body: document(["Expiration": "tomorrow"]), expect: .malformedExpiration),
        .init(
            name: "Expiration not in UTC",
            body: document(["Expiration": "2026-12-01T20:00:00+01:00"]),
            expect: .malformedExpiration
        ),
        .init(name: "already expired", body: document(["Expiration": "2026-12-01T15:59:59Z"]), expect: .expired),
        .init(
            name: "an oversized document",
            body: document(["Padding": String(repeating: "x", count: 17_000)]),
            expect: .bodyTooLarge
        ),
    ]
}

@Suite struct InstanceCredentialsTests {
    @Test(arguments: CredentialsVector.all)
    func parse(_ vector: CredentialsVector) throws {
        let outcome = Result { () throws(InstanceCredentialsError) in
            try InstanceCredentials.parse(Array(vector.body.utf8), now: CredentialsVector.received)
        }
        switch (outcome, vector.expect) {
        case (.success(let credentials), nil):
            #expect(credentials.accessKeyID == "ASIAEXAMPLE")
            #expect(credentials.sessionToken == "IQoJb3JpZ2luX2VjEXAMPLE==")
            #expect(credentials.expiration == Date(timeIntervalSince1970: 1_796_155_200))
            #expect(!credentials.description.contains("wJalr"))
        case (.failure(let error), let expected?):
            #expect(error.code == expected, "\(error)")
        default:
            Issue.record("\(vector.name): got \(outcome), expected \(vector.expect.map { "\($0)" } ?? "success")")
        }
    }

    @Test(arguments: [
        ("cloister-host\n", "cloister-host"), ("cloister-host", "cloister-host"), ("first\r\nsecond\n", "first"),
        ("a+b=c,d.e@f_g-h", "a+b=c,d.e@f_g-h"),
    ])
    func roleName(listing: String, expected: String) throws {
        #expect(try InstanceMetadataClient.roleName(Array(listing.utf8)) == expected)
    }

    @Test(arguments: ["", "\nrole", "bad role", "rôle", String(repeating: "r", count: 65), "../etc"])
    func malformedRoleName(listing: String) {
        #expect(throws: InstanceCredentialsError(.malformedRoleName, "")) {
            try InstanceMetadataClient.roleName(Array(listing.utf8))
        }
    }
}
