/// First in, first out within each owner, the owners served in turn: `pop` takes the front of the line of the owner
/// whose turn it is, and that owner then waits behind every other owner with a line. An owner with thousands of
/// elements waiting delays another owner's next one by one of its own. Amortized O(1) push and pop.
public struct TurnQueue<Owner: Hashable, Element> {
    private var lines: [Owner: FIFO<Element>] = [:]
    private var turns = FIFO<Owner>()
    public private(set) var count = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    /// Queues `element` at the back of `owner`'s line (and `owner` at the back of the turns, if its line was empty).
    public mutating func push(_ element: Element, owner: Owner) {
        if lines[owner] == nil {
            lines[owner] = FIFO()
            turns.push(owner)
        }
        lines[owner]?.push(element)
        count += 1
    }

    /// The element `pop` would take.
    public func peek() -> Element? { turns.peek().flatMap { lines[$0]?.peek() } }

    /// Takes the front of the line whose turn it is; its owner goes to the back of the turns, or leaves them if its
    /// line is now empty.
    public mutating func pop() -> Element? {
        guard let owner = turns.pop(), let element = lines[owner]?.pop() else { return nil }
        count -= 1
        if lines[owner]?.isEmpty == false { turns.push(owner) } else { lines[owner] = nil }
        return element
    }

    /// Removes the element `peek` shows without passing the turn on: for an element found to be void, so that its
    /// owner still goes next (or leaves the turns, its line empty).
    public mutating func dropFirst() {
        guard let owner = turns.peek(), lines[owner]?.pop() != nil else { return }
        count -= 1
        if lines[owner]?.isEmpty != false {
            lines[owner] = nil
            _ = turns.pop()
        }
    }
}
