package inventory

import (
	"encoding/json"
	"testing"

	"github.com/meshperf/meshperf/bus"
)

// FuzzObjectRow: whatever object body a producer ships, making its row never panics,
// a Secret's row never keeps data or stringData, and what is kept is JSON.
func FuzzObjectRow(f *testing.F) {
	f.Add([]byte(`{"kind":"Secret","data":{"k":"dg=="},"stringData":{"a":"b"},"type":"Opaque"}`), "Secret", "")
	f.Add([]byte(`{"kind":"Pod","spec":{"containers":[{"image":"x"}]}}`), "Pod", "")
	f.Add([]byte(`[1,2]`), "Secret", "")
	f.Add([]byte(`{"a":"\u0000"}`), "ConfigMap", "")
	f.Fuzz(func(t *testing.T, obj []byte, kind, group string) {
		if !json.Valid(obj) { // DecodeMeshSync refuses these before they get here
			obj = nil
		}
		o := &bus.MeshSyncObject{Group: group, Version: "v1", Resource: "x", Kind: kind, Name: "n", UID: "u",
			Labels: map[string]string{ManagedByLabel: ManagedByValue}, Object: obj}
		row, err := objectRow(o, &bus.Envelope{Boot: "b", Seq: 1})
		if err != nil {
			t.Fatal(err)
		}
		if !row.Managed {
			t.Error("the managed label was not read")
		}
		if row.Object == nil {
			return
		}
		if !json.Valid([]byte(*row.Object)) {
			t.Fatalf("kept an object that is not JSON: %q", *row.Object)
		}
		if kind == "Secret" && group == "" {
			var m map[string]json.RawMessage
			if json.Unmarshal([]byte(*row.Object), &m) != nil {
				t.Fatalf("a Secret kept as something other than an object: %q", *row.Object)
			}
			if _, ok := m["data"]; ok {
				t.Fatalf("a Secret kept its data: %q", *row.Object)
			}
			if _, ok := m["stringData"]; ok {
				t.Fatalf("a Secret kept its stringData: %q", *row.Object)
			}
		}
	})
}
