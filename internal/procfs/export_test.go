package procfs

// SyncWindow is syncWindow, for the tests.
const SyncWindow = syncWindow
