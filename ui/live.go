package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/jobcluster/jobcluster/api"
)

// serveLive streams a page's "live" block as server-sent events: it
// renders the block from the service every poll interval and sends it
// whenever it changed, until the browser goes away.
func (s *server) serveLive(w http.ResponseWriter, r *http.Request) {
	name, args, ok := route(strings.TrimPrefix(r.URL.Path, Prefix+"live/"))
	p := s.pages[name]
	if !ok || !p.live {
		http.NotFound(w, r)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported by this connection", http.StatusInternalServerError)
		return
	}
	startEvents(w)
	path := Prefix + strings.TrimPrefix(r.URL.Path, Prefix+"live/")
	var last uint64
	ticker := time.NewTicker(s.poll)
	defer ticker.Stop()
	for {
		ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
		data, err := p.view(ctx, s, r.URL.Query(), args)
		cancel()
		if r.Context().Err() != nil {
			return
		}
		var b bytes.Buffer
		err = p.tmpl.ExecuteTemplate(&b, "live", pageData{
			Path: path, Query: r.URL.Query(), Live: true, Err: errorText(err), NeedToken: needsToken(err),
			Data: data, Now: s.now(), Prefix: Prefix,
		})
		if err != nil {
			s.logger.Error("render live block", "page", name, "err", err)
			return
		}
		h := fnv.New64a()
		h.Write(b.Bytes())
		if sum := h.Sum64(); sum != last {
			last = sum
			if writeEvent(w, "", b.String()) != nil {
				return
			}
			flusher.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-ticker.C:
		}
	}
}

// startEvents sends the headers of a server-sent event stream.
func startEvents(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
}

// writeEvent writes one server-sent event; every line of data becomes a
// data field, which the browser joins again with newlines.
func writeEvent(w io.Writer, event, data string) error {
	var b strings.Builder
	if event != "" {
		fmt.Fprintf(&b, "event: %s\n", event)
	}
	for _, line := range strings.Split(data, "\n") {
		b.WriteString("data: ")
		b.WriteString(strings.TrimSuffix(line, "\r"))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// serveLogs streams a pod's log as server-sent events: one "message"
// event per chunk (its text as a JSON string), then "end" when the log
// ends, or "fail" with the server's message.
func (s *server) serveLogs(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported by this connection", http.StatusInternalServerError)
		return
	}
	follow := r.URL.Query().Get("follow") != "false"
	stream, err := s.client.Logs(r.Context(), &api.LogsRequest{Pod: r.PathValue("pod"), Follow: follow, Namespace: r.URL.Query().Get("namespace")})
	startEvents(w)
	if err != nil {
		writeEvent(w, "fail", errorText(err))
		return
	}
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			writeEvent(w, "end", "")
			flusher.Flush()
			return
		}
		if err != nil {
			if r.Context().Err() == nil {
				writeEvent(w, "fail", errorText(err))
			}
			return
		}
		text, _ := json.Marshal(string(chunk.GetData()))
		if writeEvent(w, "", string(text)) != nil {
			return
		}
		flusher.Flush()
	}
}
