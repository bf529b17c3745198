package ipvs_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADMECode checks that the README's shortest use is the body of
// readmeShortestUse in example_test.go, which the compiler checks: the
// README can not drift into code that does not build.
func TestREADMECode(t *testing.T) {
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(src), "func readmeShortestUse(ctx context.Context) error {\n")
	body, _, ok2 := strings.Cut(body, "\n}\n")
	if !ok || !ok2 {
		t.Fatal("example_test.go has no readmeShortestUse")
	}
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		lines = append(lines, strings.TrimPrefix(l, "\t"))
	}
	want := "```go\n" + strings.Join(lines, "\n") + "\n```"
	if !strings.Contains(string(readme), want) {
		t.Errorf("README.md does not show readmeShortestUse's body as a go block:\n%s", want)
	}
}
