// Scripts/soak's client: several tenants' mixed load of signed actions, each retried under its request id until
// the host gives its signed answer, and the end-of-run checks that no acknowledged job was lost and no
// state-changing action took effect twice. See SoakCommand for what it does and what it writes.
// (From top-level code `main()` would resolve to ArgumentParser's synchronous one, which refuses an async command.)
do { try await SoakCommand.parse().run() } catch { SoakCommand.exit(withError: error) }
