package distributed

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshperf/meshperf/internal/natstest"
	"github.com/meshperf/meshperf/internal/selfmetrics"
)

// The outbox keeps what it could not publish yet, in order, and sends it all once the
// broker takes it: here the stream appears only after 300 items were queued and their
// publishes refused.
func TestOutboxSendsEverythingInOrderOnceTheBrokerTakesIt(t *testing.T) {
	_, _, js := natstest.JetStream(t, server.Options{})

	o := newOutbox(js, "iv.test", slog.New(slog.NewTextHandler(io.Discard, nil)), selfmetrics.NewAgent(prometheus.NewRegistry()))
	const n = 300
	for i := range n {
		o.add([]byte(fmt.Sprint(i)), fmt.Sprintf("id-%d", i))
	}
	time.Sleep(300 * time.Millisecond) // the first publish is refused (no stream) and retried
	ctx := context.Background()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "IV", Subjects: []string{"iv.>"}})
	if err != nil {
		t.Fatal(err)
	}
	o.add([]byte(fmt.Sprint(n)), fmt.Sprintf("id-%d", n))
	o.close(20 * time.Second)

	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != n+1 {
		t.Fatalf("stream holds %d messages; want %d", info.State.Msgs, n+1)
	}
	for i := range n + 1 {
		m, err := st.GetMsg(ctx, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("message %d is %q; want %d (in order)", i+1, m.Data, i)
		}
	}
}
