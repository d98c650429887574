package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/server/adapters"
	"github.com/meshperf/meshperf/server/auth"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

// withAdapters answers 503 instead of h when the server runs without the adapters'
// service.
func (a *API) withAdapters(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.opt.Adapters == nil {
			writeError(w, r, http.StatusServiceUnavailable, "unavailable", "this server runs no mesh adapters' registry", nil)
			return
		}
		h(w, r)
	}
}

func (a *API) adapterError(w http.ResponseWriter, r *http.Request, err error) {
	var ie *adapters.InputError
	if errors.As(err, &ie) {
		badInput(w, r, ie.Fields, "")
		return
	}
	if errors.Is(err, store.ErrNotFound) {
		a.storeError(w, r, err)
		return
	}
	if strings.Contains(err.Error(), "cannot read the adapter's Info") {
		writeError(w, r, http.StatusBadGateway, "bad_gateway", err.Error(), nil)
		return
	}
	a.storeError(w, r, err)
}

func (a *API) listAdapters(w http.ResponseWriter, r *http.Request) {
	list, err := a.opt.Adapters.Adapters(r.Context())
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
}

// registerAdapter: an adapter registers (idempotent by address); the server reads
// its Info over gRPC before storing it.
func (a *API) registerAdapter(w http.ResponseWriter, r *http.Request) {
	var reg apitypes.AdapterRegistration
	if !a.readBody(w, r, &reg) {
		return
	}
	ad, err := a.opt.Adapters.Register(r.Context(), reg)
	if err != nil {
		a.adapterError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ad)
}

func (a *API) startOperation(w http.ResponseWriter, r *http.Request) {
	var req apitypes.OperationRequest
	if !a.readBody(w, r, &req) {
		return
	}
	actor := ""
	if p := auth.From(r.Context()); p != nil {
		actor = p.Name
	}
	op, err := a.opt.Adapters.Start(r.Context(), req, actor)
	if err != nil {
		a.adapterError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, op)
}

func (a *API) listOperations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 50
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			writeError(w, r, http.StatusBadRequest, "invalid", "limit: want 1 to 500", []smp.FieldError{{Path: "limit", Msg: "want 1 to 500"}})
			return
		}
		limit = n
	}
	state := q.Get("state")
	switch state {
	case "", "running", "succeeded", "failed":
	default:
		writeError(w, r, http.StatusBadRequest, "invalid", "state: want running, succeeded or failed", []smp.FieldError{{Path: "state", Msg: "want running, succeeded or failed"}})
		return
	}
	list, err := a.opt.Adapters.List(r.Context(), state, limit)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
}

func (a *API) getOperation(w http.ResponseWriter, r *http.Request) {
	op, err := a.opt.Adapters.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, op)
}

// operationEvents lists an operation's events after ?after=, or with Accept:
// text/event-stream streams them live ("event" events, in order, then "end" with the
// final operation), resuming after the given sequence.
func (a *API) operationEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var after int64
	if s := r.URL.Query().Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			writeError(w, r, http.StatusBadRequest, "invalid", "after: want a sequence (0 or more)", []smp.FieldError{{Path: "after", Msg: "want a sequence"}})
			return
		}
		after = n
	}
	if id == "" || len(id) > 64 {
		a.storeError(w, r, store.ErrNotFound)
		return
	}
	svc := a.opt.Adapters
	if !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		evs, err := svc.Events(r.Context(), id, after, 1000)
		if err != nil {
			a.storeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": evs})
		return
	}
	if _, err := svc.Get(r.Context(), id); err != nil {
		a.storeError(w, r, err)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, r, http.StatusInternalServerError, "internal", "streaming unsupported", nil)
		return
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(typ string, data any) {
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b)
		flusher.Flush()
	}
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	for {
		wake := svc.Wait(id)
		// Read the state before the events: an operation seen done has stored all its
		// events, so the read that follows gets the last of them.
		op, err := svc.Get(r.Context(), id)
		if err != nil {
			return
		}
		evs, err := svc.Events(r.Context(), id, after, 1000)
		if err != nil {
			return
		}
		for _, e := range evs {
			send("event", e)
			after = e.Sequence
		}
		if adapters.Done(op.State) && len(evs) < 1000 {
			send("end", op)
			return
		}
		if len(evs) == 1000 {
			continue
		}
		select {
		case <-r.Context().Done():
			return
		case <-heartbeat.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			flusher.Flush()
		case <-wake:
		case <-time.After(time.Second): // changes made by another replica
		}
	}
}
