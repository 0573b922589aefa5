import EnclaveWire
import Foundation
import GRDB
import Logging
import NIOCore
import NitroAttestation
import VsockBridge

/// The host's end of one `queue` connection. Pulls are answered from the job queue (one pull open at a time);
/// result batches are checked against the key that proved the connection (`ResultSeals`), committed in the order
/// they arrive, then acknowledged; attestation answers go to the clients waiting for them. A message that breaks the
/// protocol, or a result that is not the boot's own, closes this connection only, and its leases go back to the
/// queue.
final class QueueChannelHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = WireMessage

    private let queue: JobQueue
    private let logger: Logger
    private let maxFrameSize: Int
    private var owner: UInt64 = 0
    private var pulling = false
    private var results: AsyncStream<(UInt64, [UInt8], [QueueResult])>.Continuation?
    private var seals: ResultSeals

    init(queue: JobQueue, identity: ES384PublicKey, maxFrameSize: Int, logger: Logger) {
        self.queue = queue
        self.seals = ResultSeals(key: identity)
        self.maxFrameSize = maxFrameSize
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        owner = queue.connected()
        let (stream, feed) = AsyncStream.makeStream(of: (UInt64, [UInt8], [QueueResult]).self)
        results = feed
        let channel = context.channel
        let (queue, logger) = (self.queue, self.logger)
        // One writer per connection keeps the log in the order the enclave sealed it.
        Task {
            for await (batch, boot, items) in stream {
                do {
                    try await queue.complete(boot: boot, items: items)
                    channel.writeAndFlush(WireMessage.data(QueueMessage.ack(batch: batch).encoded), promise: nil)
                } catch {
                    logger.error("queue: results could not be stored (\(error)); closing so the enclave sends them again")
                    channel.close(promise: nil)
                    return
                }
            }
        }
        logger.info("queue channel up")
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        results?.finish()
        queue.disconnected(owner)
    }

    func channelInactive(context: ChannelHandlerContext) {
        results?.finish()
        queue.disconnected(owner)
        logger.notice("queue channel down")
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message: QueueMessage
        switch unwrapInboundIn(data) {
        case .data(let bytes):
            do { message = try QueueMessage(encoded: bytes, maxSize: maxFrameSize) } catch {
                return refuse(context, code: error.code.rawValue, reason: error.message)
            }
        case .close(let code, let reason):
            logger.notice("the enclave closed its queue channel", metadata: ["code": "\(code)", "reason": "\(reason.prefix(200))"])
            context.close(promise: nil)
            return
        default:
            return refuse(context, code: "protocol", reason: "only data frames travel on the queue channel")
        }
        switch message {
        case .pull(let max, let wait):
            guard !pulling else { return refuse(context, code: "protocol", reason: "a second pull while one is open") }
            pulling = true
            let channel = context.channel
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let (queue, owner) = (self.queue, self.owner)
            Task {
                let (jobs, attestations) = await queue.lease(owner: owner, max: Int(max), wait: .milliseconds(Int64(wait)))
                channel.eventLoop.execute { bound.value.pulling = false }
                let reply = WireMessage.data(QueueMessage.work(jobs: jobs, attestations: attestations).encoded)
                channel.writeAndFlush(reply).whenFailure { _ in
                    // The connection died under the answer: its leases return when the disconnect is seen.
                    queue.disconnected(owner)
                }
            }
        case .results(let batch, let boot, let items):
            if let reason = seals.check(boot: boot, items: items) {
                return refuse(context, code: "resultUnsealed", reason: reason)
            }
            results?.yield((batch, boot, items))
        case .attestation(let id, let document):
            queue.attested(id: id, .success(document))
        case .attestationFailed(let id, let reason):
            queue.attested(id: id, .failure(APIError(502, "attestationFailed", "the enclave could not attest: \(reason.prefix(200))")))
        case .work, .ack:
            refuse(context, code: "protocol", reason: "the enclave sent a host message")
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let code = (error as? WireError)?.code.rawValue ?? "protocol"
        refuse(context, code: code, reason: "\(error)")
    }

    private func refuse(_ context: ChannelHandlerContext, code: String, reason: String) {
        logger.warning("closing queue channel", metadata: ["code": "\(code)", "reason": "\(reason.prefix(300))"])
        let channel = context.channel
        context.writeAndFlush(NIOAny(WireMessage.close(code: code, reason: reason))).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// The host's end of one `store` connection: gets and compare-and-swap puts on the `blobs` table. Puts go
/// through the group committer, so a stored blob is durable before the enclave hears "stored".
final class StoreChannelHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = WireMessage

    private let database: HostDatabase
    private let committer: GroupCommitter
    private let logger: Logger
    /// The bytes of blobs one listing page carries at most (one blob always goes, as a `value` would).
    private let maxListBytes: Int

    init(database: HostDatabase, committer: GroupCommitter, maxFrameSize: Int = 1 << 20, logger: Logger) {
        self.database = database
        self.committer = committer
        self.logger = logger
        maxListBytes = maxFrameSize / 2
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .data(let bytes) = unwrapInboundIn(data) else {
            return refuse(context, code: "protocol", reason: "only data frames travel on the store channel")
        }
        let message: StoreMessage
        do { message = try StoreMessage(encoded: bytes) } catch { return refuse(context, code: error.code.rawValue, reason: error.message) }
        let channel = context.channel
        let (database, committer, logger) = (self.database, self.committer, self.logger)
        switch message {
        case .get(let id, let key):
            Task {
                let answer: StoreMessage
                do {
                    let row = try await database.rows("SELECT version, value FROM blobs WHERE key = ?", [key]).first
                    if let row { answer = .value(id: id, version: UInt64(row[0] as Int64), value: (row[1] as Data).bytes) } else { answer = .value(id: id, version: 0, value: []) }
                } catch {
                    logger.error("store: read failed: \(error)")
                    answer = .failed(id: id, code: "storageUnavailable")
                }
                channel.writeAndFlush(WireMessage.data(answer.encoded), promise: nil)
            }
        case .put(let id, let key, let expected, let value):
            Task {
                let answer: StoreMessage
                do {
                    let now = Int64(WallClock.milliseconds())
                    let (stored, version) = try await committer.run { db -> (Bool, UInt64) in
                        let current = try Int64.fetchOne(db, sql: "SELECT version FROM blobs WHERE key = ?", arguments: [key]).map { UInt64($0) } ?? 0
                        guard current == expected, current < UInt64(Int64.max) else { return (false, current) }
                        try db.execute(
                            sql: "INSERT INTO blobs (key, version, value, updated) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET version = excluded.version, value = excluded.value, updated = excluded.updated",
                            arguments: [key, Int64(current + 1), Data(value), now])
                        // A log head brings the receipts of the batch that made it: filed with it, in one commit.
                        if key == LogHeadRecord.storeKey, let record = try? LogHeadRecord(encoded: value) {
                            try JobQueue.file(receipts: record.batch, received: now, in: db)
                        }
                        return (true, current + 1)
                    }
                    answer = .putResult(id: id, stored: stored, version: version)
                } catch {
                    logger.error("store: write failed: \(error)")
                    answer = .failed(id: id, code: "storageUnavailable")
                }
                channel.writeAndFlush(WireMessage.data(answer.encoded), promise: nil)
            }
        case .list(let id, let after):
            let budget = maxListBytes
            Task {
                let answer: StoreMessage
                do {
                    answer = try await database.read { db in
                        let rows = try Row.fetchAll(
                            db, sql: "SELECT key, version, value FROM blobs WHERE key > ? ORDER BY key LIMIT ?",
                            arguments: [after, StoreMessage.maxListEntries + 1])
                        var entries: [StoreEntry] = []
                        var bytes = 0
                        for row in rows.prefix(StoreMessage.maxListEntries) {
                            let value = (row[2] as Data).bytes
                            let key: String = row[0]
                            guard entries.isEmpty || bytes + value.count + key.utf8.count + 32 <= budget else { break }
                            bytes += value.count + key.utf8.count + 32
                            entries.append(StoreEntry(key: key, version: UInt64(row[1] as Int64), value: value))
                        }
                        return .entries(id: id, entries: entries, more: entries.count < rows.count)
                    }
                } catch {
                    logger.error("store: list failed: \(error)")
                    answer = .failed(id: id, code: "storageUnavailable")
                }
                channel.writeAndFlush(WireMessage.data(answer.encoded), promise: nil)
            }
        case .value, .putResult, .failed, .entries:
            refuse(context, code: "protocol", reason: "the enclave sent a host message")
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        refuse(context, code: (error as? WireError)?.code.rawValue ?? "protocol", reason: "\(error)")
    }

    private func refuse(_ context: ChannelHandlerContext, code: String, reason: String) {
        logger.warning("closing store channel", metadata: ["code": "\(code)", "reason": "\(reason.prefix(300))"])
        let channel = context.channel
        context.writeAndFlush(NIOAny(WireMessage.close(code: code, reason: reason))).whenComplete { _ in channel.close(promise: nil) }
    }
}
