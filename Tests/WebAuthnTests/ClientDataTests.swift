import Testing
import WebAuthn

/// clientDataJSON (section 5.8.1) through the strict reader, and base64url challenges.
@Suite struct ClientDataTests {
    static let challenge = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"
    static func json(_ members: String) -> [UInt8] { Array("{\(members)}".utf8) }
    static let base = #""type":"webauthn.get","challenge":"\#(challenge)","origin":"https://cloister.example""#

    @Test func readsWhatBrowsersSend() throws {
        let chromium = Self.json(
            Self.base
                + #","crossOrigin":false,"other_keys_can_be_added_here":"do not compare clientDataJSON against a template. See https://goo.gl/yabPex""#
        )
        let data = try ClientData(json: chromium)
        #expect(
            data.type == "webauthn.get" && data.origin == "https://cloister.example" && !data.crossOrigin
                && data.topOrigin == nil
        )
        #expect(data.challenge == Array(1...32))
        #expect(try ClientData(json: data.serialized) == data)
        #expect(data.serialized == Self.json(Self.base + #","crossOrigin":false"#))
        // Older browsers leave crossOrigin out; it reads as false.
        #expect(try ClientData(json: Self.json(Self.base)) == data)
    }

    @Test func serialisationEscapesAsCCDToStringDoes() throws {
        let data = ClientData(
            type: "webauthn.get",
            challenge: [],
            origin: "a\"b\\c\u{1}\u{7f}é",
            crossOrigin: true,
            topOrigin: "https://top.example"
        )
        #expect(
            String(decoding: data.serialized, as: UTF8.self)
                == #"{"type":"webauthn.get","challenge":"","origin":"a\"b\\c\u0001\#u{7f}é","crossOrigin":true,"topOrigin":"https://top.example"}"#
        )
        #expect(try ClientData(json: data.serialized) == data)
    }

    static let accepted: [(name: String, json: String)] = [
        (
            "members in another order",
            #"{"origin":"https://cloister.example","challenge":"\#(challenge)","type":"webauthn.get"}"#
        ),
        (
            "whitespace everywhere JSON allows it",
            " \t\n\r{ \"type\" :\"webauthn.get\" , \"challenge\":\"\(challenge)\",\"origin\":\"https://cloister.example\" }\n"
        ),
        (
            "escapes in values",
            #"{"type":"webauthn\u002eget","challenge":"\#(challenge)","origin":"https:\/\/cloister.example"}"#
        ),
        (
            "unknown members of every kind",
            "{\(base),\"n\":-0.5e+3,\"a\":[1,[true,null],{}],\"o\":{\"k\":{\"k\":\"v\"}},\"s\":\"\\ud83d\\ude00\"}"
        ),
        ("a name canonically equivalent to another is another name", "{\(base),\"\\u00e9\":1,\"e\\u0301\":2}"),
        ("the same name in two objects", "{\(base),\"a\":{\"x\":1},\"b\":{\"x\":1}}"),
        (
            "nesting to depth 8",
            "{\(base),\"d\":" + String(repeating: "[", count: 7) + String(repeating: "]", count: 7) + "}"
        ),
        ("tokenBinding, reserved and ignored", "{\(base),\"tokenBinding\":{\"status\":\"present\",\"id\":\"AAAA\"}}"),
    ]

    @Test(arguments: accepted)
    func accepts(name: String, json: String) throws {
        let data = try ClientData(json: Array(json.utf8))
        #expect(data.challenge == Array(1...32) && data.origin == "https://cloister.example", "\(name)")
    }

    static let refused: [(name: String, json: [UInt8], code: WebAuthnErrorCode)] = [
        ("empty", [], .clientDataMalformed),
        ("an array", Array("[\(json(base))]".utf8), .clientDataMalformed),
        ("a string", Array("\"webauthn.get\"".utf8), .clientDataMalformed),
        ("two objects", json(base) + json(base), .clientDataMalformed),
        ("a comma after the last member", json(base + ","), .clientDataMalformed),
        ("a byte order mark", [0xEF, 0xBB, 0xBF] + json(base), .clientDataMalformed),
        ("invalid UTF-8", json(base + ",\"x\":\"\u{0}\"").map { $0 == 0 ? 0xC3 : $0 }, .clientDataMalformed),
        ("a raw control character", json(base + ",\"x\":\"\u{1}\""), .clientDataMalformed),
        ("an unknown escape", json(base + #","x":"\q""#), .clientDataMalformed),
        ("an unpaired high surrogate", json(base + #","x":"\ud83d""#), .clientDataMalformed),
        ("an unpaired low surrogate", json(base + #","x":"\ude00""#), .clientDataMalformed),
        ("a short \\u escape", json(base + #","x":"\u12""#), .clientDataMalformed),
        ("a number with a leading zero", json(base + #","x":01"#), .clientDataMalformed),
        ("a number ending in a point", json(base + #","x":1."#), .clientDataMalformed),
        ("NaN", json(base + #","x":NaN"#), .clientDataMalformed),
        ("a single-quoted string", json(base + ",'x':1"), .clientDataMalformed),
        ("a comment", json(base + "/* */"), .clientDataMalformed),
        ("an unterminated string", Array("{\"type\":\"webauthn.get".utf8), .clientDataMalformed),
        (
            "nesting to depth 9",
            json(base + ",\"d\":" + String(repeating: "[", count: 8) + String(repeating: "]", count: 8)),
            .clientDataMalformed
        ),
        ("nesting 3,900 deep", json(base + ",\"d\":" + String(repeating: "[", count: 3_900)), .clientDataMalformed),
        ("over 4 KiB", json(base + ",\"pad\":\"" + String(repeating: "x", count: 4096) + "\""), .clientDataMalformed),
        ("no type", json(#""challenge":"\#(challenge)","origin":"https://cloister.example""#), .clientDataMalformed),
        ("no challenge", json(#""type":"webauthn.get","origin":"https://cloister.example""#), .clientDataMalformed),
        ("no origin", json(#""type":"webauthn.get","challenge":"\#(challenge)""#), .clientDataMalformed),
        (
            "type a number", json(#""type":1,"challenge":"\#(challenge)","origin":"https://cloister.example""#),
            .clientDataMalformed
        ),
        (
            "origin null", json(#""type":"webauthn.get","challenge":"\#(challenge)","origin":null"#),
            .clientDataMalformed
        ),
        ("crossOrigin a string", json(base + #","crossOrigin":"false""#), .clientDataMalformed),
        ("topOrigin a boolean", json(base + #","topOrigin":false"#), .clientDataMalformed),
        ("challenge padded", json(#""type":"webauthn.get","challenge":"AQ==","origin":"x""#), .clientDataMalformed),
        (
            "challenge in the standard alphabet", json(#""type":"webauthn.get","challenge":"+/8","origin":"x""#),
            .clientDataMalformed
        ),
        (
            "challenge with a stray bit", json(#""type":"webauthn.get","challenge":"AR","origin":"x""#),
            .clientDataMalformed
        ),
        (
            "challenge of 4n+1 characters", json(#""type":"webauthn.get","challenge":"AAAAA","origin":"x""#),
            .clientDataMalformed
        ),
        ("type twice", json(base + #","type":"webauthn.get""#), .clientDataDuplicateMember),
        ("challenge twice, the second escaped", json(base + #","\u0063hallenge":"AA""#), .clientDataDuplicateMember),
        ("an unknown member twice", json(base + #","x":1,"x":1"#), .clientDataDuplicateMember),
        ("a member twice in a nested object", json(base + #","o":{"k":1,"k":2}"#), .clientDataDuplicateMember),
    ]

    @Test(arguments: refused)
    func refuses(name: String, json: [UInt8], code: WebAuthnErrorCode) {
        #expect(throws: WebAuthnError(code, ""), "\(name)") { try ClientData(json: json) }
    }

    @Test func base64URLRoundTripsAndIsCanonical() {
        for count in 0...40 {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(Base64URL.decode(text) == bytes)
        }
        #expect(Base64URL.encode(Array("\u{fb}\u{ff}".utf8)) == "w7vDvw")
        // Padding, other alphabets, whitespace, a lone last character, and unused bits that are not zero.
        for text in ["A", "AB=", "AA==", "A B", "AA\n", "+w", "/w", "AB", "AAB", "AAAAA"] {
            #expect(Base64URL.decode(text) == nil, "\(text) decoded")
        }
        #expect(Base64URL.decode("AA") == [0] && Base64URL.decode("AAA") == [0, 0] && Base64URL.decode("") == [])
    }
}
