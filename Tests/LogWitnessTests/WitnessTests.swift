import CloisterClient
import CloisterTestSupport
import Foundation
import NitroAttestation
import Testing
import TransparencyLog

@testable import LogWitness

/// The witness's cosignature on a head: its own line replaced, every other line kept, the time injected.
struct WitnessTests {
    @Test func cosigningAgainReplacesTheWitnesssOwnLineOnly() throws {
        let deployment = TestDeployment()
        let leaves = TestDeployment.leaves(4)
        let key = try WitnessKey.generate(name: "w1")
        let other = try WitnessKey.generate(name: "w2")
        var configuration = Witness.Configuration(deployment: deployment.commitment, key: key, statePath: "/nonexistent/state.json")
        configuration.now = { 1_800_000_000 }
        let witness = Witness(
            configuration: configuration,
            host: CloisterClient(baseURL: URL(string: "http://127.0.0.1:9/")!, token: nil, trust: TrustManifest(pcrs: [:]), deployment: deployment.commitment))
        let note = deployment.head(leaves, size: 4, cosignedBy: [key.signer, other.signer], time: 1_700_000_000)
        let cosigned = try witness.cosign(try LogHead.verify(note, deployment: deployment.commitment))
        let lines = try SignedNote(parsing: cosigned).signatures
        #expect(lines.count == 3)
        #expect(lines.filter { $0.name == "w1" }.count == 1)
        let mine = try WitnessedHead.verify(cosigned, deployment: deployment.commitment, witness: key.verifierKey)
        #expect(mine.time == 1_800_000_000)
        #expect(try WitnessedHead.verify(cosigned, deployment: deployment.commitment, witness: other.verifierKey).time == 1_700_000_000)
    }
}
