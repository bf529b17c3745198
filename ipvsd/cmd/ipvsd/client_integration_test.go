//go:build integration && linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// clientLoop sends HTTP requests to a virtual address from the client
// namespace, one connection each, and counts those that fail.
type clientLoop struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	answers    map[string]int
	stop       chan struct{}
	once       sync.Once
	done       chan struct{}
}

func (l *lab) startLoop(vip string) *clientLoop {
	c := &clientLoop{stop: make(chan struct{}), done: make(chan struct{}), answers: map[string]int{}}
	go func() {
		defer close(c.done)
		_ = l.client.Do(func() error {
			for {
				select {
				case <-c.stop:
					return nil
				default:
				}
				body, err := get(vip)
				c.mu.Lock()
				if err != nil {
					c.failed.Add(1)
					if len(c.errs) < 10 {
						c.errs = append(c.errs, time.Now().Format("15:04:05.000 ")+err.Error())
					}
				} else {
					c.ok.Add(1)
					c.answers[strings.TrimSpace(string(body))]++
				}
				c.mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}()
	return c
}

// get makes one HTTP request to addr on a connection of its own, on the
// calling goroutine: net/http's Transport dials on goroutines of its own,
// which would not run in the client's namespace.
func get(addr string) ([]byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n"); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %s", resp.Status)
	}
	return body, err
}

// end stops the loop and returns how many requests passed and failed,
// with the first errors. It may be called again.
func (c *clientLoop) end() (ok, failed int64, errs []string) {
	c.once.Do(func() { close(c.stop) })
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok.Load(), c.failed.Load(), c.errs
}

// served returns how many requests each backend answered since the last
// call.
func (c *clientLoop) served() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.answers
	c.answers = map[string]int{}
	return out
}
