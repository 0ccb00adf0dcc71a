package transport

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestHTTPServerServesAddedHandlersUntilClosed(t *testing.T) {
	h, err := ListenHTTP("127.0.0.1:0", Config{})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			h.Close(context.Background())
		}
	})
	// Added after the server started, as later parts of a daemon do.
	h.HandleFunc("/hello", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hi") })

	resp, err := http.Get("http://" + h.Addr() + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hi" {
		t.Errorf("GET /hello = %q, want %q", body, "hi")
	}
	if resp, err := http.Get("http://" + h.Addr() + "/missing"); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /missing = %d, want 404", resp.StatusCode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	closed = true
	if conn, err := net.Dial("tcp", h.Addr()); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after Close", h.Addr())
	}
}

func TestHTTPServerCloseCutsLongRequests(t *testing.T) {
	h, err := ListenHTTP("127.0.0.1:0", Config{})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	h.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	got := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + h.Addr() + "/slow")
		if err == nil {
			resp.Body.Close()
		}
		got <- err
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := h.Close(ctx); err == nil {
		t.Error("Close with a request still running reported no error")
	}
	if err := <-got; err == nil {
		t.Error("the long request was not cut short")
	}
}

func TestHTTPServerCloseOfNilServer(t *testing.T) {
	var h *HTTPServer
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestListenHTTPReportsTakenAddress(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	if h, err := ListenHTTP(lis.Addr().String(), Config{}); err == nil {
		h.Close(context.Background())
		t.Fatal("ListenHTTP on a taken address succeeded")
	}
}
