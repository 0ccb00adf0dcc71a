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

	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// serveLive streams a page's "live" block as server-sent events: it
// renders the block from the service and sends it whenever it changed,
// until the browser goes away. It renders every poll interval unless the
// render's cost says otherwise (nextRender): a view of many objects, such
// as the Jobs page of 100,000 Jobs, takes seconds of a server's CPU, and
// a page left open in a browser must not keep a core busy.
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
	var (
		last     uint64    // the hash of the block last sent
		seen     liveMark  // the state the last render read
		rendered time.Time // when the last render began
		cost     time.Duration
	)
	ticker := time.NewTicker(s.poll)
	defer ticker.Stop()
	for {
		ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
		mark, markErr := s.mark(ctx)
		if rendered.IsZero() || markErr != nil || !time.Now().Before(nextRender(rendered, cost, s.poll, mark != seen)) {
			start := time.Now()
			data, err := p.view(ctx, s, r.URL.Query(), args)
			if r.Context().Err() != nil {
				cancel()
				return
			}
			var b bytes.Buffer
			err = p.tmpl.ExecuteTemplate(&b, "live", pageData{
				Path: path, Query: r.URL.Query(), Live: true, Err: errorText(err), NeedToken: needsToken(err),
				Data: data, Now: s.now(), Prefix: Prefix,
			})
			if err != nil {
				cancel()
				s.logger.Error("render live block", "page", name, "err", err)
				return
			}
			seen, rendered, cost = mark, start, time.Since(start)
			h := fnv.New64a()
			h.Write(b.Bytes())
			if sum := h.Sum64(); sum != last {
				last = sum
				if writeEvent(w, "", b.String()) != nil {
					cancel()
					return
				}
				flusher.Flush()
			}
		}
		cancel()
		select {
		case <-r.Context().Done():
			return
		case <-ticker.C:
		}
	}
}

// Each render of a live block is followed by at least this many times
// its cost before the next: a tenth of a core at most while the servers'
// state changes, a hundredth while it does not and only the block's times
// (ages, durations, next runs) move on. A block that renders in 10 ms or
// less is rendered every poll interval either way.
const (
	liveChangedShare   = 10
	liveUnchangedShare = 100
)

// nextRender is when a live block last rendered at last, at a cost of
// cost, is due again; changed says the servers' state or members changed
// since.
func nextRender(last time.Time, cost, poll time.Duration, changed bool) time.Time {
	share := time.Duration(liveUnchangedShare)
	if changed {
		share = liveChangedShare
	}
	return last.Add(max(poll, share*cost))
}

// liveMark tells whether what a live block shows may have changed: the
// index of the servers' state, and the members with their states.
type liveMark struct{ index, members uint64 }

// mark reads the liveMark of now, at the cost of two small calls.
func (s *server) mark(ctx context.Context) (liveMark, error) {
	nodes, err := s.client.List(ctx, &api.ListRequest{Kind: api.NodeResource.Singular, Limit: 1})
	if err != nil {
		return liveMark{}, err
	}
	members, err := s.client.Members(ctx, &api.MembersRequest{})
	if err != nil {
		return liveMark{}, err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(members)
	if err != nil {
		return liveMark{}, err
	}
	h := fnv.New64a()
	h.Write(b)
	return liveMark{index: nodes.GetIndex(), members: h.Sum64()}, nil
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
