package chaos

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// gate is a TCP proxy in front of the worker's receiver that can go down: while down, its
// port refuses connections and the connections it had are cut, as when the host serving the
// callback URL is unreachable. The worker itself keeps running.
type gate struct {
	t      *testing.T
	addr   string // where it listens (fixed across downs)
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

// newGate listens on a free port and forwards to target.
func newGate(t *testing.T, target string) *gate {
	g := &gate{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.addr = ln.Addr().String()
	g.serve(ln)
	t.Cleanup(g.down)
	return g
}

func (g *gate) serve(ln net.Listener) {
	g.mu.Lock()
	g.ln = ln
	g.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go g.forward(c)
		}
	}()
}

func (g *gate) forward(c net.Conn) {
	up, err := net.DialTimeout("tcp", g.target, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	g.mu.Lock()
	g.conns[c], g.conns[up] = true, true
	g.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
	g.mu.Lock()
	delete(g.conns, c)
	delete(g.conns, up)
	g.mu.Unlock()
}

// down closes the port and cuts every connection.
func (g *gate) down() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln != nil {
		g.ln.Close()
		g.ln = nil
	}
	for c := range g.conns {
		c.Close()
	}
}

// up listens on the same port again.
func (g *gate) up() {
	g.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may linger a moment after the close
		if ln, err = net.Listen("tcp", g.addr); err == nil {
			g.serve(ln)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	g.t.Fatalf("listen on %s again: %v", g.addr, err)
}
