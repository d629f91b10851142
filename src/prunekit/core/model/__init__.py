"""The user's model and data as prunekit handles them: example inputs, batches, modes restored
after a look, hooked passes, copies without tensor memory, sums over ranks."""
