package smp

import (
	"strings"
	"testing"
)

// Attached Grafana panels decode from a config and are checked field by field.
func TestGrafanaPanelsDecodeAndValidate(t *testing.T) {
	good := "duration: 5s\nclients:\n  - endpoint_urls: [http://a/]\n    rps: 10\n" +
		"grafana_panels:\n  - {board_uid: meshperf-0a1b, panel_id: 3, title: Proxy CPU}\n"
	cfg, err := DecodeConfig([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil || len(cfg.GrafanaPanels) != 1 || cfg.GrafanaPanels[0].PanelID != 3 {
		t.Fatalf("%+v %v", cfg.GrafanaPanels, err)
	}
	cfg.GrafanaPanels = []GrafanaPanel{
		{BoardUID: "bad uid!", PanelID: 1},
		{BoardUID: "ok", PanelID: 0},
		{BoardUID: "ok", PanelID: 2},
		{BoardUID: "ok", PanelID: 2},
		{BoardUID: strings.Repeat("x", 41), PanelID: 1},
	}
	err = cfg.Validate()
	for _, want := range []string{"grafana_panels[0].board_uid", "grafana_panels[1].panel_id", "grafana_panels[3]: the same panel as grafana_panels[2]", "grafana_panels[4].board_uid"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	bad := strings.Replace(good, "title: Proxy CPU", "bogus: 1", 1)
	if _, err := DecodeConfig([]byte(bad)); err == nil || !strings.Contains(err.Error(), "grafana_panels[0].bogus") {
		t.Errorf("an unknown field of a panel: %v", err)
	}
}
