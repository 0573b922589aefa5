/// An IAM principal named by ARN: `arn:PARTITION:iam::ACCOUNT:root`, `...:role/[PATH/]NAME` or
/// `...:user/[PATH/]NAME`, checked for shape (not for existence).
struct IAMPrincipal: Sendable, Hashable {
    /// The ARN as given.
    let arn: String
    /// Whether this is an account root (`:root`), which stands for every identity the account trusts.
    let isAccountRoot: Bool

    /// The AWS partitions an ARN may name.
    static let partitions: Set<Substring> = ["aws", "aws-cn", "aws-us-gov"]

    /// Checks `arn`'s shape; `option` names it in the error.
    init(_ arn: String, option: String) throws(KMSPolicyError) {
        let bad = KMSPolicyError(
            .invalidPrincipalARN,
            "\(option) \"\(arn)\" is not arn:aws:iam::ACCOUNT:role/NAME, arn:aws:iam::ACCOUNT:user/NAME or arn:aws:iam::ACCOUNT:root")
        let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", Self.partitions.contains(parts[1]), parts[2] == "iam", parts[3].isEmpty,
            Self.isAccount(parts[4])
        else { throw bad }
        let resource = parts[5]
        if resource == "root" {
            self.arn = arn
            self.isAccountRoot = true
            return
        }
        // role/NAME or user/NAME, optionally with a path between: IAM's name characters, names at most 64 long.
        let segments = resource.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count >= 2, segments[0] == "role" || segments[0] == "user", resource.count <= 512,
            segments.dropFirst().allSatisfy({ !$0.isEmpty && $0.allSatisfy(Self.isNameCharacter) }), segments.last!.count <= 64
        else { throw bad }
        self.arn = arn
        self.isAccountRoot = false
    }

    /// Twelve decimal digits.
    static func isAccount(_ s: Substring) -> Bool { s.count == 12 && s.allSatisfy { $0.isASCII && $0.isNumber } }

    static func isNameCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || "+=,.@_-".contains(c))
    }
}
