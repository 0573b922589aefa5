/// The queue worker's seals as group commits: one seal at a time, each of whatever finished since the previous one
/// (at most `max`), in the order it finished. A value with no I/O: the worker owns it.
struct GroupCommit<Item> {
    let max: Int
    private var waiting: [Item] = []
    /// Whether a group is being sealed.
    private(set) var sealing = false

    init(max: Int) {
        precondition(max >= 1)
        self.max = max
    }

    /// Items finished and not yet in a group.
    var count: Int { waiting.count }

    mutating func finished(_ item: Item) { waiting.append(item) }

    /// The next group to seal, when none is being sealed and something finished; it is being sealed until `done`.
    mutating func next() -> [Item]? {
        guard !sealing, !waiting.isEmpty else { return nil }
        let n = min(waiting.count, max)
        let group = Array(waiting.prefix(n))
        waiting.removeFirst(n)
        sealing = true
        return group
    }

    /// The group being sealed is sealed (or its seal failed).
    mutating func done() {
        precondition(sealing, "no group is being sealed")
        sealing = false
    }
}
