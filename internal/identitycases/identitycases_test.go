package identitycases

import (
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	if cases := Load(t); len(cases) < 5 {
		t.Errorf("%d cases", len(cases))
	}
}

// TestParseRefuses: a table that breaks its format is refused, so that a
// typo in a field's name cannot make a case test nothing.
func TestParseRefuses(t *testing.T) {
	const one = `{"name": "a", "key": {"family": 2, "protocol": 6, "address": "10.0.0.1", "port": 80}}`
	for table, want := range map[string]string{
		`[]`:                                   "no case",
		`[{"name": "a", "servce": {}}]`:        "unknown field",
		`[` + one + `,` + one + `]`:            "the same key",
		`[{"name": "a", "destinationKey": 1}]`: "cannot unmarshal",
	} {
		if _, err := parse([]byte(table)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", table, err, want)
		}
	}
	if _, err := parse([]byte(`[` + one + `]`)); err != nil {
		t.Errorf("one case: %v", err)
	}
}
