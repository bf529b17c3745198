package check

import (
	"os/user"
	"strconv"
)

// lookupIDs finds the numbers of a user and a group, each given by name
// or number; an empty group means the user's own. On an error it names
// the field at fault.
func lookupIDs(userName, groupName string) (*ids, string, error) {
	u, err := user.Lookup(userName)
	if err != nil {
		if u, err = user.LookupId(userName); err != nil {
			return nil, "exec.user", err
		}
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, "exec.user", err
	}
	gidText := u.Gid
	if groupName != "" {
		g, err := user.LookupGroup(groupName)
		if err != nil {
			if g, err = user.LookupGroupId(groupName); err != nil {
				return nil, "exec.group", err
			}
		}
		gidText = g.Gid
	}
	gid, err := strconv.ParseUint(gidText, 10, 32)
	if err != nil {
		return nil, "exec.group", err
	}
	return &ids{uid: uint32(uid), gid: uint32(gid)}, "", nil
}
