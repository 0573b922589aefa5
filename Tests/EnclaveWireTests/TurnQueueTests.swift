import EnclaveWire
import Testing

@Suite struct TurnQueueTests {
    @Test func ownersAreServedInTurnEachInItsOwnOrder() {
        var q = TurnQueue<String, Int>()
        for i in 0..<5 { q.push(i, owner: "a") }
        q.push(100, owner: "b")
        q.push(101, owner: "b")
        q.push(200, owner: "c")
        #expect(q.count == 8)
        var out: [Int] = []
        while let e = q.pop() { out.append(e) }
        #expect(out == [0, 100, 200, 1, 101, 2, 3, 4])
        #expect(q.isEmpty && q.count == 0 && q.peek() == nil)
    }

    @Test func anOwnerWhoseLineEmptiedComesBackAtTheBackOfTheTurns() {
        var q = TurnQueue<String, Int>()
        q.push(1, owner: "a")
        q.push(2, owner: "b")
        q.push(3, owner: "b")
        #expect(q.pop() == 1)
        q.push(4, owner: "a")
        // a's line had emptied, so a waits behind b, whose turn it is.
        #expect(q.pop() == 2)
        #expect(q.pop() == 4)
        #expect(q.pop() == 3)
        #expect(q.pop() == nil)
    }

    @Test func droppingTheFirstKeepsItsOwnersTurn() {
        var q = TurnQueue<String, Int>()
        q.push(1, owner: "a")
        q.push(2, owner: "a")
        q.push(3, owner: "b")
        q.dropFirst()
        #expect(q.count == 2)
        // a still goes first, with its next element; popping would have passed the turn to b.
        #expect(q.pop() == 2)
        #expect(q.pop() == 3)
        // Dropping an owner's last element takes it out of the turns.
        q.push(4, owner: "a")
        q.push(5, owner: "b")
        q.dropFirst()
        #expect(q.pop() == 5)
        #expect(q.isEmpty && q.peek() == nil)
        q.dropFirst()
        #expect(q.count == 0)
    }

    @Test func itMatchesAPlainModelOverManyRandomSteps() {
        // The model: a list of owners in turn order, each with its list of elements.
        var q = TurnQueue<UInt8, Int>()
        var model: [(owner: UInt8, items: [Int])] = []
        // Steps drawn from a seeded linear congruential sequence, so that a failure can be replayed: the seed is in
        // the failure's message.
        let seed = UInt64.random(in: 0...UInt64.max)
        var state = seed
        for step in 0..<20_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let draw = state >> 33
            if draw & 1 == 0 || model.isEmpty {
                let owner = UInt8((draw >> 1) % 6)
                q.push(step, owner: owner)
                if let i = model.firstIndex(where: { $0.owner == owner }) {
                    model[i].items.append(step)
                } else {
                    model.append((owner, [step]))
                }
            } else {
                #expect(q.peek() == model[0].items.first, "seed \(seed), step \(step)")
                var first = model.removeFirst()
                let expected = first.items.removeFirst()
                if !first.items.isEmpty { model.append(first) }
                let got = q.pop()
                #expect(got == expected, "seed \(seed), step \(step)")
                if got != expected { return }
            }
            #expect(q.count == model.reduce(0) { $0 + $1.items.count }, "seed \(seed), step \(step)")
        }
    }
}

