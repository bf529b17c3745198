// Package reconcile converges the IPVS table of a network namespace to a
// desired one: it reads the table once, computes a plan of typed changes,
// and applies it in one batch, draining the destinations that are no
// longer desired instead of cutting their connections.
//
// Compute is the pure planner; NewPlan reads the table and plans; a Plan
// can be inspected (Changes, String) and applied (Apply). A Reconciler
// does both in Sync and remembers how long each destination has been
// draining. Watch polls a table and yields its differences.
//
// Only the services Options.Owns owns are ever written; the rest of the
// table is left as it is.
//
// # Reads while the table changes
//
// The kernel does not snapshot its table for a dump: each chunk resumes
// at an index that counts the services of every network namespace, so
// while any program adds or removes services, anywhere, a read may skip
// services or destinations, or list some twice. Compute and Diff take an
// object listed twice for one. Plan.Apply, and so Reconciler.Sync, reads
// again an object whose creation the kernel refused because it exists,
// and counts the change done when it is there (updating its settings if
// they differ), so that a Sync does not fail for what its read missed.
// Watch reports an object removed only once a read of that object alone
// does not find it.
package reconcile
