package dashboards

import (
	"context"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/smp"
)

// Debian ships no Grafana, so the upload runs only against one named by GRAFANA_URL
// (with GRAFANA_TOKEN: a token or user:password).
func TestUploadToGrafana(t *testing.T) {
	grafanaURL := os.Getenv("GRAFANA_URL")
	if grafanaURL == "" {
		t.Skip("GRAFANA_URL is not set: no Grafana to upload to (Debian ships none); boards are checked by Validate instead")
	}
	b, err := Build(realResults(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := Upload(ctx, grafanaURL, os.Getenv("GRAFANA_TOKEN"), b, "meshperf tests")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, b.UID) {
		t.Fatalf("board URL %q does not name board %s", got, b.UID)
	}
	boards, err := ListBoards(ctx, grafanaURL, os.Getenv("GRAFANA_TOKEN"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range boards {
		found = found || x.UID == b.UID
	}
	if !found {
		t.Fatalf("board %s not listed after upload", b.UID)
	}
	panels, err := BoardPanels(ctx, grafanaURL, os.Getenv("GRAFANA_TOKEN"), b.UID)
	if err != nil || len(panels) != 6 {
		t.Fatalf("panels %+v, %v", panels, err)
	}
}

func TestPanelsOfReadsRowsToo(t *testing.T) {
	b, err := Build(realResults(t)[:1], Options{PrometheusDatasource: "p"})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := PanelsOf(b.UID, b.JSON)
	if err != nil || len(ps) != 6+len(DefaultResourceQueries) || ps[0].Title != "Latency p50" || ps[0].PanelID != 1 {
		t.Fatalf("%+v %v", ps, err)
	}
	legacy := []byte(`{"panels":[{"type":"row","id":1,"title":"r","panels":[{"id":7,"title":"inner","type":"timeseries"}]}]}`)
	ps, err = PanelsOf("u", legacy)
	if err != nil || len(ps) != 1 || ps[0].PanelID != 7 || ps[0].BoardUID != "u" {
		t.Fatalf("%+v %v", ps, err)
	}
	if _, err := PanelsOf("u", []byte(`{"panels":3}`)); err == nil {
		t.Fatal("a board whose panels are not a list was read")
	}
}

func TestPanelURLShowsTheRunWindow(t *testing.T) {
	from := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	to := from.Add(90 * time.Second)
	got, err := PanelURL("https://grafana.example/sub/", "meshperf-abc", 3, from, to)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(got)
	q := u.Query()
	if u.Path != "/sub/d/meshperf-abc" || q.Get("from") != "1796119200000" || q.Get("to") != "1796119290000" || q.Get("viewPanel") != "3" {
		t.Fatalf("%s", got)
	}
	for _, bad := range []struct {
		url, uid string
		from, to time.Time
		want     string
	}{
		{"ftp://x", "u", from, to, "grafana_url"},
		{"https://user:pw@x", "u", from, to, "credentials"},
		{"https://x", "", from, to, "board_uid"},
		{"https://x", "u", to, from, "window"},
	} {
		if _, err := PanelURL(bad.url, bad.uid, 1, bad.from, bad.to); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("PanelURL(%q, %q): %v, want an error naming %s", bad.url, bad.uid, err, bad.want)
		}
	}
}

// A profile's attached panels link to the run's measured window of a real result.
func TestPanelLinksOverTheRunWindow(t *testing.T) {
	r := *realResults(t)[0]
	cfg := *r.Config
	cfg.GrafanaPanels = []smp.GrafanaPanel{{BoardUID: "mesh", PanelID: 4, Title: "Proxy CPU"}, {BoardUID: "mesh", PanelID: 9}}
	r.Config = &cfg
	links, err := PanelLinks("http://grafana:3000", &r)
	if err != nil || len(links) != 2 {
		t.Fatalf("%+v %v", links, err)
	}
	u, _ := url.Parse(links[0].URL)
	if q := u.Query(); q.Get("from") != strconv.FormatInt(r.MeasureStart.UnixMilli(), 10) ||
		q.Get("to") != strconv.FormatInt(r.EndTime.UnixMilli(), 10) || q.Get("viewPanel") != "4" || u.Path != "/d/mesh" {
		t.Errorf("%s: not panel 4 over %s..%s", links[0].URL, r.MeasureStart, r.EndTime)
	}
	if links[1].Title != "" || links[1].PanelID != 9 {
		t.Errorf("%+v", links[1])
	}
	if _, err := PanelLinks("not a url", &r); err == nil || !strings.Contains(err.Error(), "grafana_panels[0]") {
		t.Errorf("bad Grafana URL: %v", err)
	}
	if links, err := PanelLinks("http://g", realResults(t)[1]); err != nil || links != nil {
		t.Errorf("no panels attached: %+v %v", links, err)
	}
}
