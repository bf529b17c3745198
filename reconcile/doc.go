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
package reconcile
