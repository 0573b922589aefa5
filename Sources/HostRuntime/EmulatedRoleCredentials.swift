import EmulatedKMS
import Foundation

/// Emulation's instance metadata: the emulated role's current credentials, which the emulated KMS accepts.
public struct EmulatedRoleCredentials: InstanceCredentialsSource {
    public let role: EmulatedRole

    public init(role: EmulatedRole) { self.role = role }

    public func credentials() async throws(InstanceCredentialsError) -> InstanceCredentials {
        let c = role.current()
        return InstanceCredentials(
            accessKeyID: c.accessKeyID, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken,
            expiration: Date(timeIntervalSince1970: TimeInterval(c.expiration)))
    }
}
