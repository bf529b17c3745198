package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/ipvsd/daemon"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// TestBasicAuthAndNotify: with exporter-toolkit's web configuration, the
// API on TCP asks for basic authentication; and the daemon tells systemd
// that it is ready, then stopping.
func TestBasicAuthAndNotify(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ipvsd.yaml"), []byte(configOf("127.0.0.1:9")), 0o600); err != nil {
		t.Fatal(err)
	}
	// The password "secret", hashed with bcrypt as the web configuration
	// wants it.
	web := "basic_auth_users:\n  admin: $2a$04$cNl1ARxpVv03gc5fTDTmDe8lqKbzL96NW6tB6vIUuyIqqamIl3DBK\n"
	if err := os.WriteFile(filepath.Join(dir, "web.yml"), []byte(web), 0o600); err != nil {
		t.Fatal(err)
	}
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "notify"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	t.Setenv("NOTIFY_SOCKET", filepath.Join(dir, "notify"))

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := testConfig(t, dir, filepath.Join(dir, "ipvsd.sock"))
	cfg.Listen = []string{addr}
	cfg.WebConfig = filepath.Join(dir, "web.yml")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- daemon.Run(ctx, cfg, ipvstest.NewFake().Client(t)) }()

	// systemd's notifications: READY=1 first.
	buf := make([]byte, 256)
	_ = notify.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := notify.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Fatalf("notification %q, %v", buf[:n], err)
	}
	get := func(user, pass string) int {
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/status", nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("", ""); code != 401 {
		t.Errorf("without credentials: %d", code)
	}
	if code := get("admin", "wrong"); code != 401 {
		t.Errorf("with a wrong password: %d", code)
	}
	if code := get("admin", "secret"); code != 200 {
		t.Errorf("with the password: %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	n, err = notify.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "STOPPING=1") {
		t.Errorf("notification %q, %v", buf[:n], err)
	}
}
