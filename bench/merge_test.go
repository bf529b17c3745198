//go:build linux

package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMergeReplacesTheSameSuitesAndSizesAndKeepsTheRest(t *testing.T) {
	dir := t.TempDir()
	in, add := filepath.Join(dir, "results.jsonl"), filepath.Join(dir, "run.log")
	old := []string{
		`RESULT {"contender":"ipvs","services":1000,"dests":10,"workload":"create","seconds":1}`,
		`RESULT {"contender":"ipvsd","services":100,"dests":10,"workload":"start","seconds":2,"group":"ipvsd"}`,
		`RESULT {"contender":"ipvsd","services":1000,"dests":10,"workload":"start","seconds":3,"group":"ipvsd"}`,
		`NOTE {"group":"ipvsd","text":"an earlier run"}`,
		`RESULT {"contender":"etcd","services":10000,"dests":1,"workload":"start","seconds":4,"group":"fleet-fakes"}`,
	}
	if err := os.WriteFile(in, []byte(strings.Join(old, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	log := "=== kernel bookworm\n" +
		`RESULT {"contender":"ipvsd","services":100,"dests":10,"workload":"start","seconds":5,"group":"ipvsd"}` + "\n" +
		"ipvsd's log: nothing\n"
	if err := os.WriteFile(add, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := merge(in, add, "2 cores, loaded"); err != nil {
		t.Fatal(err)
	}
	got, err := readLines(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{old[0], old[2], old[4],
		`RESULT {"contender":"ipvsd","services":100,"dests":10,"workload":"start","seconds":5,"group":"ipvsd"}`,
		`NOTE {"group":"ipvsd","text":"2 cores, loaded"}`}
	if !slices.Equal(got, want) {
		t.Errorf("merged:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMergeRefusesALogWithoutResults(t *testing.T) {
	dir := t.TempDir()
	in, add := filepath.Join(dir, "results.jsonl"), filepath.Join(dir, "run.log")
	const kept = `RESULT {"contender":"ipvs","services":1000,"dests":10,"workload":"create","seconds":1}` + "\n"
	if err := os.WriteFile(in, []byte(kept), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(add, []byte("bench: suite ipvsd, run 0: exit status 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := merge(in, add, ""); err == nil || !strings.Contains(err.Error(), "no RESULT lines") {
		t.Errorf("merge of a log without results: %v, want an error that says so", err)
	}
	if b, _ := os.ReadFile(in); string(b) != kept {
		t.Errorf("the results file became %q", b)
	}
}

func TestSuiteConditionsSayKernelsDatesAndTheNote(t *testing.T) {
	rows := map[string][]result{"a": {
		{Kernel: "6.1.0-57-cloud-amd64", Date: "2026-12-05 03:50"},
		{Kernel: "6.1.0-57-cloud-amd64", Date: "2026-12-05 04:10"},
	}}
	got := suiteConditions(rows, "The machine was loaded.")
	want := "Kernel `6.1.0-57-cloud-amd64`; measured 2026-12-05 03:50 to 2026-12-05 04:10 UTC. The machine was loaded.\n\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
