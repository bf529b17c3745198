package director

import "fmt"

// AdminState is what an operator has made of a real server through the
// API, whatever its health.
type AdminState uint8

// Possible AdminState values.
const (
	// AdminEnabled lets its health decide: the default.
	AdminEnabled AdminState = iota
	// AdminDrained keeps it in the table at weight 0: its connections
	// go on, new ones go elsewhere.
	AdminDrained
	// AdminDisabled takes it out of the table, as a failure would under
	// the virtual server's policy (drained, then removed).
	AdminDisabled
)

var adminNames = [...]string{AdminEnabled: "enabled", AdminDrained: "drained", AdminDisabled: "disabled"}

// String returns "enabled", "drained" or "disabled".
func (a AdminState) String() string {
	if int(a) < len(adminNames) {
		return adminNames[a]
	}
	return fmt.Sprintf("admin(%d)", uint8(a))
}

// MarshalText writes the state's name.
func (a AdminState) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads a state's name.
func (a *AdminState) UnmarshalText(b []byte) error {
	for i, n := range adminNames {
		if n == string(b) {
			*a = AdminState(i)
			return nil
		}
	}
	return fmt.Errorf("%q is not an admin state: want enabled, drained or disabled", b)
}
