package bus

import (
	"encoding/json"
	"strings"
	"testing"
)

func meshSyncEvent(seq uint64, ev *MeshSyncEvent) *Envelope {
	ev.Cluster = "c-1"
	return &Envelope{Kind: KindMeshSyncEvent, Sender: "c-1", Boot: "b1", Seq: seq, MeshSyncEvent: ev}
}

func TestDecodeMeshSyncNamesWhatIsWrong(t *testing.T) {
	obj := &MeshSyncObject{Version: "v1", Resource: "pods", Kind: "Pod", Name: "p", UID: "u1",
		Object: json.RawMessage(`{"spec":{}}`)}
	good := []*Envelope{
		meshSyncEvent(1, &MeshSyncEvent{Type: EventAdded, Object: obj}),
		meshSyncEvent(2, &MeshSyncEvent{Type: EventSnapshotStart, Snapshot: "s1", Resources: []string{"pods.v1."}}),
		meshSyncEvent(3, &MeshSyncEvent{Type: EventSnapshotEnd, Snapshot: "s1", Resources: []string{"pods.v1."}, Count: 4}),
		meshSyncEvent(4, &MeshSyncEvent{Type: EventStatus, Status: &MeshSyncStatus{Mode: "embedded", State: "watching"}}),
		{Kind: KindMeshSyncControl, Sender: "server", Seq: 1, MeshSyncControl: &MeshSyncControlMsg{Type: ControlResync}},
	}
	for _, e := range good {
		b, _ := Encode(e)
		if _, err := DecodeMeshSync(b); err != nil {
			t.Errorf("%s: %v", b, err)
		}
	}
	bad := map[string]*Envelope{
		"sender":         {Kind: KindMeshSyncEvent, Sender: "c-2", Boot: "b1", Seq: 1, MeshSyncEvent: &MeshSyncEvent{Cluster: "c-1", Type: EventStatus, Status: &MeshSyncStatus{}}},
		"seq":            meshSyncEvent(0, &MeshSyncEvent{Type: EventAdded, Object: obj}),
		"uid":            meshSyncEvent(1, &MeshSyncEvent{Type: EventAdded, Object: &MeshSyncObject{Version: "v1", Resource: "pods", Kind: "Pod", Name: "p"}}),
		"snapshot":       meshSyncEvent(1, &MeshSyncEvent{Type: EventSnapshotEnd, Resources: []string{"pods.v1."}}),
		"event type":     meshSyncEvent(1, &MeshSyncEvent{Type: "renamed", Object: obj}),
		"control type":   {Kind: KindMeshSyncControl, Sender: "server", Seq: 1, MeshSyncControl: &MeshSyncControlMsg{Type: "flush"}},
		"exactly its":    {Kind: KindMeshSyncControl, Sender: "server", Seq: 1},
		"not a MeshSync": {Kind: KindHeartbeat, Sender: "a", Boot: "b", Seq: 1, Heartbeat: &Heartbeat{Agent: "a"}},
	}
	for want, e := range bad {
		b, _ := Encode(e)
		if _, err := DecodeMeshSync(b); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one naming %q", b, err, want)
		}
	}
	if _, err := DecodeMeshSync([]byte(`{"v":1,"kind":"meshsync.event","bogus":1}`)); err == nil {
		t.Errorf("an unknown field was accepted")
	}
	b, _ := Encode(good[0])
	if _, err := DecodeMeshSync(append(b, '}')); err == nil {
		t.Errorf("trailing data was accepted")
	}
}

func TestMeshSyncStreamConfigMatchesTheBounds(t *testing.T) {
	c := MeshSyncStreamConfig()
	if c.Name != MeshSyncStream || c.MaxMsgSize != MeshSyncMaxMsgSize || c.Duplicates != MeshSyncDuplicateWindow ||
		len(c.Subjects) != 1 || c.Subjects[0] != AllMeshSyncEvents() {
		t.Errorf("stream config %+v", c)
	}
	if MeshSyncMsgID("b1", 42) != "b1-42" {
		t.Errorf("msg id %q", MeshSyncMsgID("b1", 42))
	}
}

func FuzzDecodeMeshSync(f *testing.F) {
	for _, e := range []*Envelope{
		meshSyncEvent(1, &MeshSyncEvent{Type: EventAdded, Object: &MeshSyncObject{Version: "v1", Resource: "pods", Kind: "Pod",
			Name: "p", UID: "u", Labels: map[string]string{"a": "b"}, Object: json.RawMessage(`{"x":1}`)}}),
		meshSyncEvent(2, &MeshSyncEvent{Type: EventSnapshotEnd, Snapshot: "s", Resources: []string{"pods.v1."}, Count: 1}),
		{Kind: KindMeshSyncControl, Sender: "server", Seq: 1, MeshSyncControl: &MeshSyncControlMsg{Type: ControlResync, Resources: []string{"pods.v1."}}},
	} {
		b, _ := Encode(e)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeMeshSync(data)
		if err != nil {
			return
		}
		if e.Version != SchemaVersion || (e.MeshSyncEvent == nil) == (e.MeshSyncControl == nil) {
			t.Fatalf("an invalid envelope was accepted: %+v", e)
		}
		if ev := e.MeshSyncEvent; ev != nil {
			if ev.Cluster != e.Sender || e.Seq == 0 {
				t.Fatalf("event of cluster %q from %q seq %d accepted", ev.Cluster, e.Sender, e.Seq)
			}
			if (ev.Type == EventAdded || ev.Type == EventModified || ev.Type == EventDeleted) && (ev.Object == nil || ev.Object.UID == "") {
				t.Fatalf("object event without an object's uid accepted")
			}
		}
		b, err := Encode(e)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := DecodeMeshSync(b); err != nil {
			t.Fatalf("re-decode of an accepted message: %v", err)
		}
	})
}
