package dashboards

import (
	"testing"
)

// Boards come back from Grafana (BoardPanels) and from users (Upload validates what
// it is given): neither decoder may panic, whatever the bytes.
func FuzzValidate(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":41,"title":"x","panels":[{"type":"timeseries","gridPos":{"x":0,"y":0,"w":8,"h":8},"datasource":{"type":"prometheus"},"targets":[{"expr":"up"}]}],"templating":{},"annotations":{}}`))
	f.Add([]byte(`{"rows":[]}`))
	f.Add([]byte(`{"panels":[{"type":"row","panels":[{"type":"graph"}]}]}`))
	f.Add([]byte(`{"panels":[{"targets":[{"datasource":{"type":"testdata"},"scenarioId":1}]}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_ = Validate(raw)
	})
}

func FuzzPanelsOf(f *testing.F) {
	f.Add([]byte(`{"panels":[{"id":1,"title":"a","type":"row","panels":[{"id":2,"type":"timeseries"}]}]}`))
	f.Add([]byte(`{"panels":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _ = PanelsOf("u", raw)
	})
}
