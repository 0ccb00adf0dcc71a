package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestUIURL(t *testing.T) {
	tests := []struct{ name, addr, want string }{
		{name: "loopback as given", addr: "127.0.0.1:7480", want: "http://127.0.0.1:7480/ui/"},
		{name: "every IPv4 address is opened on loopback", addr: "0.0.0.0:7480", want: "http://127.0.0.1:7480/ui/"},
		{name: "no host is opened on loopback", addr: ":7480", want: "http://127.0.0.1:7480/ui/"},
		{name: "every IPv6 address is opened on IPv6 loopback", addr: "[::]:7480", want: "http://[::1]:7480/ui/"},
		{name: "a named host as given", addr: "ops.example:80", want: "http://ops.example:80/ui/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := uiURL(tc.addr); got != tc.want {
				t.Errorf("uiURL(%q) = %q, want %q", tc.addr, got, tc.want)
			}
		})
	}
}

func TestDevPrintsTheUIURL(t *testing.T) {
	cmd := newDevCmd(&tlsFlags{})
	var out bytes.Buffer
	cmd.SetOut(&out)
	o := &devOptions{}
	o.printStarted(cmd, devAddrs{rpc: defaultAddr, http: "127.0.0.1:7480"}, "/tmp/d")
	if want := "web UI: http://127.0.0.1:7480/ui/\n"; !strings.Contains(out.String(), want) {
		t.Errorf("dev printed %q, want a line %q", out.String(), want)
	}
	out.Reset()
	o.printStarted(cmd, devAddrs{rpc: defaultAddr}, "/tmp/d")
	if strings.Contains(out.String(), "web UI") {
		t.Errorf("dev without HTTP printed %q, want no UI line", out.String())
	}
}
