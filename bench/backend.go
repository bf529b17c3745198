//go:build linux

package main

import (
	"bufio"
	"io"
	"net"
	"time"
)

// The daemons' suites (ipvsd, keepalived) answer their checks with as
// little work as an HTTP server can do, since the backends share the
// machine with the daemons they serve: a plain loop of accepts and, per
// connection, a read of the request's head and a fixed answer.

const (
	httpOK          = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
	httpUnavailable = "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
)

// serveChecks accepts connections on ln until it is closed, and answers
// each on a goroutine of its own with answer's reply, or 200.
func serveChecks(ln net.Listener, answer func(c net.Conn) string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			reply := httpOK
			if answer != nil {
				reply = answer(c)
			}
			if readRequestHead(c) {
				_, _ = io.WriteString(c, reply)
			}
		}()
	}
}

// readRequestHead reads a request's head, up to its empty line; false
// if the connection ends or stalls first.
func readRequestHead(c net.Conn) bool {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReaderSize(c, 1024)
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return false
		}
		if len(line) <= 2 && (len(line) == 1 || line[0] == '\r') {
			return true
		}
	}
}
