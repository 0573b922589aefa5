// Pre-generated zero-trust key.sign requests for Scripts/bench-e2e, and the check of what the load made of them.
// A load generator cannot seal and sign a request per call (each is addressed to the attested boot and runs once
// per boot), so this process makes them beforehand, keeps a sample of the keys that open their results, and once
// the load is over verifies those results: see ActionRequestsCommand for the protocol on standard input.
await ActionRequestsCommand.start()
