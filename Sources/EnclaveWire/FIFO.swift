/// A first-in first-out queue with amortized O(1) push and pop.
public struct FIFO<Element> {
    private var items: [Element] = []
    private var head = 0

    public init() {}

    public var count: Int { items.count - head }
    public var isEmpty: Bool { head == items.count }

    public mutating func push(_ e: Element) { items.append(e) }

    public func peek() -> Element? { head < items.count ? items[head] : nil }

    public mutating func pop() -> Element? {
        guard head < items.count else { return nil }
        let e = items[head]
        head += 1
        if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return e
    }
}
