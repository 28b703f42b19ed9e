// Package chaos is dingsync's fault-injection suite: it kills workers at random points of
// full syncs, event batches, audits and rotations, restarts Postgres and the Temporal server,
// makes the DingTalk simulator fail, throttle, ban and corrupt, takes the event receiver down
// and duplicates, delays and reorders pushes, and feeds hostile callbacks, malformed DingTalk
// responses and bad CLI input and configuration. Every scenario ends by comparing the HR
// store with the simulator's ground truth and checking the audit trail for duplicates.
//
// `make test` runs a short version (small orgs, few kills, no Postgres restart); `make chaos`
// (DINGSYNC_CHAOS=1) runs the long one and prints a table of scenarios, kills and faults.
// The package holds only tests.
package chaos
