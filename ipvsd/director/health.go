package director

import (
	"github.com/ipvs-go/ipvs/ipvsd/check"
)

// combine returns what the checks keys say of a real server, from their
// statuses: down if one is down, up if all are up, unknown otherwise; the
// dynamic weight is the least that one of them asks for.
func combine(keys []check.Key, statuses map[check.Key]check.Status) health {
	h := health{state: check.Up}
	for _, k := range keys {
		st, ok := statuses[k]
		switch {
		case !ok || st.Health == check.Unknown:
			if h.state == check.Up {
				h.state = check.Unknown
			}
		case st.Health == check.Down:
			if h.state != check.Down {
				h.state = check.Down
				h.why = string(st.Kind) + " check"
				if st.Last.Err != nil {
					h.why += ": " + st.Last.Err.Error()
				}
			}
		case st.HasWeight:
			w := uint32(max(st.Weight, 0))
			if !h.hasWeight || w < h.weight {
				h.weight, h.hasWeight = w, true
			}
		}
	}
	return h
}
