/// Where the host gets the instance role's credentials: the metadata service on EC2, a fixed value in tests.
public protocol InstanceCredentialsSource: Sendable {
    /// The role's current credentials, or the rule that refused them.
    func credentials() async throws(InstanceCredentialsError) -> InstanceCredentials
}
