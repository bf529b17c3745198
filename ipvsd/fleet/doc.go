// Package fleet makes ipvsd directors take their virtual servers from
// etcd and report back through it: many directors, one desired state,
// each director static when etcd is not there.
//
// The key layout under a prefix (default /ipvsd):
//
//	PREFIX/config/virtual-servers/NAME  one virtual server, YAML in the configuration file's schema
//	PREFIX/config/apply                 the last apply: who, when, how many keys, and whether it is whole
//	PREFIX/directors/NODE               a director's state, JSON, under the director's lease
//
// A Source is a director's side: it reads the configuration keys once,
// then watches them from the revision it read, keeps the last good value
// of each key (a key written invalid is refused and reported), puts in
// force the virtual servers that select its director, writes the
// director's state under a lease, and keeps a copy of what it has in
// the state directory, from which it starts when etcd can not be
// reached. Writer is the operator's side: Plan and Apply write a whole
// configuration with compare-and-swap on the revision read, and Fleet
// reads the directors' states back.
package fleet
