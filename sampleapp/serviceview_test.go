package sampleapp

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The target's own service times: per path, over whole seconds, from the handler's
// start to the response; bad windows are refused naming the parameter.
func TestServiceView(t *testing.T) {
	srv, err := Start(Config{HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	from := time.Now().Unix()
	for range 20 {
		resp, err := http.Get(srv.URL() + "/slow?latency=fixed:20ms")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	_, _ = http.Get(srv.URL() + "/fast")
	to := time.Now().Unix() + 1
	resp, err := http.Get(fmt.Sprintf("%s/stats/service?path=/slow&from=%d&to=%d", srv.URL(), from, to))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v ServiceView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if v.Target != "meshperf" || v.Requests != 20 || v.ServiceTime.Min() < 19_000 {
		t.Errorf("view %+v, min %d µs; want 20 requests of at least 20 ms on /slow", v, v.ServiceTime.Min())
	}
	for q, field := range map[string]string{"from=x&to=1": "from", "from=5&to=1": "to", "from=1": "to"} {
		resp, err := http.Get(srv.URL() + "/stats/service?" + q)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(string(body), field+":") {
			t.Errorf("%s: %d %q; want 400 naming %s", q, resp.StatusCode, body, field)
		}
	}
}
