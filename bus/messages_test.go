package bus

import (
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/smp"
)

func interval(agent string, seq uint64, idx int) *Envelope {
	h := smp.NewHistogram()
	h.RecordMicros(1234)
	return &Envelope{Kind: KindInterval, Sender: agent, Boot: "b1", Seq: seq, Sent: time.Now(),
		Interval: &IntervalMsg{Run: "r1", Agent: agent, Interval: smp.Interval{Source: agent + "/client-0", Index: idx, Requests: 10, Successes: 9, Latency: h}}}
}

func TestRoundTripAndDedup(t *testing.T) {
	iv := interval("agent-a", 1, 0)
	iv.Interval.ClockOffsetNs = -1234567
	b, err := Encode(iv)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.Interval.Interval.Latency.Count() != 1 || e.Interval.Interval.Requests != 10 || e.Interval.ClockOffsetNs != -1234567 {
		t.Errorf("interval changed: %+v", e.Interval)
	}
	var d Dedup
	if !d.Fresh(e) || d.Fresh(e) {
		t.Errorf("a replay was not recognised")
	}
	e2, _ := Decode(mustEncode(t, interval("agent-a", 2, 1)))
	e3, _ := Decode(mustEncode(t, interval("agent-b", 1, 0)))
	if !d.Fresh(e2) || !d.Fresh(e3) {
		t.Errorf("new messages refused")
	}
}

func mustEncode(t *testing.T, e *Envelope) []byte {
	b, err := Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Foreign, garbage and inconsistent messages are refused with a reason.
func TestDecodeRefuses(t *testing.T) {
	good := string(mustEncode(t, interval("a", 1, 0)))
	cases := map[string]string{
		"garbage":        "{{{",
		"wrong version":  strings.Replace(good, `"v":1`, `"v":2`, 1),
		"unknown field":  strings.Replace(good, `"kind"`, `"evil":1,"kind"`, 1),
		"unknown kind":   strings.Replace(good, `"kind":"interval"`, `"kind":"exec"`, 1),
		"no seq":         strings.Replace(good, `"seq":1`, `"seq":0`, 1),
		"no boot":        strings.Replace(good, `"boot":"b1",`, ``, 1),
		"spoofed sender": strings.Replace(good, `"sender":"a"`, `"sender":"b"`, 1),
		"kind mismatch":  strings.Replace(good, `"kind":"interval"`, `"kind":"cancel"`, 1),
		"bad histogram":  strings.Replace(good, `"latency":"HISTF`, `"latency":"XISTF`, 1),
		"empty":          "",
	}
	for name, msg := range cases {
		if _, err := Decode([]byte(msg)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSubjectsRefuseWildcards(t *testing.T) {
	if s, err := AssignSubject("run1", "agent-1"); err != nil || s != "meshperf.v1.runs.run1.assign.agent-1" {
		t.Errorf("%q %v", s, err)
	}
	for _, bad := range []string{"a.b", "*", ">", "", "a b"} {
		if _, err := AssignSubject("run1", bad); err == nil {
			t.Errorf("agent %q accepted", bad)
		}
		if _, err := IntervalSubject(bad, "a1"); err == nil {
			t.Errorf("run %q accepted", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	b, _ := Encode(interval("a", 1, 0))
	f.Add(b)
	f.Add([]byte(`{"v":1,"kind":"heartbeat","sender":"a","boot":"b1","seq":1,"heartbeat":{"agent":"a","cores":2,"engines":["fortio"]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			return
		}
		if e.Version != SchemaVersion || e.Sender == "" || e.Seq == 0 {
			t.Fatalf("an invalid envelope was accepted: %+v", e)
		}
		if _, err := Encode(e); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

func TestSubjectsNameTheAgent(t *testing.T) {
	hb, _ := HeartbeatSubject("a1")
	iv, _ := IntervalSubject("r1", "a1")
	if HeartbeatSender(hb) != "a1" || IntervalSender(iv) != "a1" {
		t.Errorf("senders of %q, %q: %q, %q", hb, iv, HeartbeatSender(hb), IntervalSender(iv))
	}
	if HeartbeatSender("meshperf.v1.agents.heartbeat") != "" || IntervalSender("meshperf.v1.runs.r1.intervals") != "" {
		t.Errorf("a subject naming no agent gave one")
	}
	if !IsAgentInbox("a1", AgentInbox("a1")+".x.y") || IsAgentInbox("a1", AgentInbox("a2")+".x") ||
		IsAgentInbox("a1", "meshperf.v1.runs.r.assign.a1") || IsAgentInbox("a1", AgentInbox("a1")+".") {
		t.Errorf("inbox check")
	}
}

// A restarted sender (new boot id, sequence from 1) is fresh; a replay in a boot is not.
func TestDedupPerBoot(t *testing.T) {
	var d Dedup
	first := interval("a", 1<<62, 0)
	first.Boot = "boot-1"
	if !d.Fresh(first) {
		t.Fatal("first message refused")
	}
	again := interval("a", 5, 1)
	again.Boot = "boot-1"
	if d.Fresh(again) {
		t.Error("an older sequence of the same boot was fresh")
	}
	restarted := interval("a", 1, 0)
	restarted.Boot = "boot-2"
	if !d.Fresh(restarted) {
		t.Error("a restart was taken for a replay")
	}
}
