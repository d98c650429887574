// Package bus owns meshperf's messaging over NATS: every subject (the only place that
// spells one), the JetStream streams, the versioned envelopes and their strict
// decoding, per-sender sequences and dedup, and what each kind of client may publish
// and subscribe to. The coordinator and agents (perf/distributed), the server's broker
// and registry, and MeshSync speak through it.
//
// Every message carries a schema version and a per-sender sequence number: consumers
// refuse other versions and ignore sequences they have already seen, so at-least-once
// delivery never counts twice and foreign or garbage messages never reach a result.
package bus

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/meshperf/meshperf/smp"
)

// SchemaVersion is the version of the messages below.
const SchemaVersion = 1

// maxMessageBytes bounds what a consumer decodes.
const maxMessageBytes = 4 << 20

// Subjects (see ARCHITECTURE.md). Tokens are checked so a name cannot inject wildcards.
const subjectPrefix = "meshperf.v1."

// HeartbeatSubject is where one agent announces itself: the agent's name is in the
// subject, and the broker lets each agent publish only on its own, so the subject
// proves who sent a heartbeat.
func HeartbeatSubject(agent string) (string, error) {
	if err := CheckToken("agent", agent); err != nil {
		return "", err
	}
	return subjectPrefix + "agents." + agent + ".heartbeat", nil
}

// AllHeartbeats is the wildcard the server listens on.
func AllHeartbeats() string { return subjectPrefix + "agents.*.heartbeat" }

// HeartbeatSender is the agent a heartbeat subject names ("" if it is not one).
func HeartbeatSender(subject string) string {
	t := strings.Split(subject, ".")
	if len(t) != 5 || subjectPrefix != t[0]+"."+t[1]+"." || t[2] != "agents" || t[4] != "heartbeat" {
		return ""
	}
	return t[3]
}

// AgentInbox is the only prefix an agent's inboxes (request replies, JetStream acks)
// may use: the server answers a heartbeat only below it, so a caller cannot choose
// where the server publishes.
func AgentInbox(agent string) string { return subjectPrefix + "inbox." + agent }

// IsAgentInbox reports whether reply is one of agent's inboxes.
func IsAgentInbox(agent, reply string) bool {
	rest, ok := strings.CutPrefix(reply, AgentInbox(agent)+".")
	return ok && rest != "" && !strings.ContainsAny(rest, "*> \t\r\n")
}

// AssignSubject carries a run's assignments and cancels to one agent.
func AssignSubject(run, agent string) (string, error) {
	if err := CheckToken("run", run); err != nil {
		return "", err
	}
	if err := CheckToken("agent", agent); err != nil {
		return "", err
	}
	return subjectPrefix + "runs." + run + ".assign." + agent, nil
}

// AgentAssignments is the wildcard of every run's assignments to one agent.
func AgentAssignments(agent string) string { return subjectPrefix + "runs.*.assign." + agent }

// IntervalSubject carries one agent's intervals of a run (JetStream stream RUNS): the
// agent's name is in the subject and the broker lets each agent publish only on its
// own, so the subject proves the sender.
func IntervalSubject(run, agent string) (string, error) {
	if err := CheckToken("run", run); err != nil {
		return "", err
	}
	if err := CheckToken("agent", agent); err != nil {
		return "", err
	}
	return subjectPrefix + "runs." + run + ".intervals." + agent, nil
}

// RunIntervals is the wildcard of every agent's intervals of a run.
func RunIntervals(run string) (string, error) {
	if err := CheckToken("run", run); err != nil {
		return "", err
	}
	return subjectPrefix + "runs." + run + ".intervals.*", nil
}

// IntervalSender is the agent an interval subject names ("" if it is not one).
func IntervalSender(subject string) string {
	t := strings.Split(subject, ".")
	if len(t) != 6 || subjectPrefix != t[0]+"."+t[1]+"." || t[2] != "runs" || t[4] != "intervals" {
		return ""
	}
	return t[5]
}

func CheckToken(what, s string) error {
	if s == "" || len(s) > 128 || strings.ContainsAny(s, ".*> \t\r\n") {
		return fmt.Errorf("%s %q cannot be a subject token (no dots, wildcards or spaces)", what, s)
	}
	return nil
}

// Kinds of message.
const (
	KindHeartbeat = "heartbeat"
	KindAssign    = "assign"
	KindCancel    = "cancel"
	KindInterval  = "interval"
)

// Envelope is what travels: a kind, the schema version, the sender and its sequence,
// and one body.
type Envelope struct {
	Version int    `json:"v" yaml:"v"`
	Kind    string `json:"kind" yaml:"kind"`
	Sender  string `json:"sender" yaml:"sender"`
	// Boot names the sender's process (random per start): sequences count per boot,
	// so a restarted agent starting again from 1 is not taken for a replay.
	Boot string    `json:"boot,omitempty" yaml:"boot,omitempty"`
	Seq  uint64    `json:"seq" yaml:"seq"`
	Sent time.Time `json:"sent" yaml:"sent"`

	Heartbeat *Heartbeat   `json:"heartbeat,omitempty" yaml:"heartbeat,omitempty"`
	Assign    *Assignment  `json:"assign,omitempty" yaml:"assign,omitempty"`
	Cancel    *Cancel      `json:"cancel,omitempty" yaml:"cancel,omitempty"`
	Interval  *IntervalMsg `json:"interval,omitempty" yaml:"interval,omitempty"`

	MeshSyncEvent   *MeshSyncEvent      `json:"meshsync_event,omitempty" yaml:"meshsync_event,omitempty"`
	MeshSyncControl *MeshSyncControlMsg `json:"meshsync_control,omitempty" yaml:"meshsync_control,omitempty"`
}

// Heartbeat says an agent is alive and what it offers.
type Heartbeat struct {
	Agent   string            `json:"agent" yaml:"agent"`
	Labels  map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	Cores   int               `json:"cores" yaml:"cores"`
	Engines []string          `json:"engines" yaml:"engines"`
	Version string            `json:"version" yaml:"version"`
	// Busy names the run the agent is executing, if any.
	Busy string `json:"busy,omitempty" yaml:"busy,omitempty"`
	// ClockOffsetNs is the agent's clock minus the server's, in nanoseconds, estimated
	// from the previous heartbeat's round trip (RTTNs says how precise it is). Integers
	// on the wire: a duration's JSON form is a number, not a Go duration string.
	ClockOffsetNs int64 `json:"clock_offset_ns,omitempty" yaml:"clock_offset_ns,omitempty"`
	RTTNs         int64 `json:"rtt_ns,omitempty" yaml:"rtt_ns,omitempty"`
}

// HeartbeatReply is the server's answer to a heartbeat: its clock.
type HeartbeatReply struct {
	ServerTime time.Time `json:"server_time"`
}

// Assignment gives an agent its shard of a run and when to start it.
type Assignment struct {
	Run     string          `json:"run" yaml:"run"`
	Agent   string          `json:"agent" yaml:"agent"`
	Shard   int             `json:"shard" yaml:"shard"`
	Of      int             `json:"of" yaml:"of"`
	Config  *smp.TestConfig `json:"config" yaml:"config"`
	StartAt time.Time       `json:"start_at" yaml:"start_at"` // the agreed wall-clock instant
}

// Cancel stops an agent's shard of a run.
type Cancel struct {
	Run    string `json:"run" yaml:"run"`
	Reason string `json:"reason" yaml:"reason"`
}

// IntervalMsg is one interval an agent measured.
type IntervalMsg struct {
	Run      string       `json:"run" yaml:"run"`
	Agent    string       `json:"agent" yaml:"agent"`
	Interval smp.Interval `json:"interval" yaml:"interval"`
	// ClockOffsetNs is the agent's estimate of its clock minus the server's (ns).
	ClockOffsetNs int64 `json:"clock_offset_ns,omitempty" yaml:"clock_offset_ns,omitempty"`
	// Final marks the agent's last interval of the run.
	Final bool `json:"final,omitempty" yaml:"final,omitempty"`
	// Environment describes the agent's machine and engines (on the final message).
	Environment *smp.Environment `json:"environment,omitempty" yaml:"environment,omitempty"`
}

// Encode marshals an envelope, stamping the schema version.
func Encode(e *Envelope) ([]byte, error) {
	e.Version = SchemaVersion
	return json.Marshal(e)
}

// Decode reads and validates an envelope. Anything else — another version, garbage,
// a body that does not match the kind, unknown fields — is an error that names what
// is wrong; nothing partial is returned.
func Decode(data []byte) (*Envelope, error) {
	if len(data) > maxMessageBytes {
		return nil, fmt.Errorf("message is %d bytes; the limit is %d", len(data), maxMessageBytes)
	}
	var e Envelope
	if err := smp.DecodeStrict(data, &e); err != nil {
		return nil, fmt.Errorf("not a meshperf message: %w", err)
	}
	if e.Version != SchemaVersion {
		return nil, fmt.Errorf("schema version %d; this side speaks %d", e.Version, SchemaVersion)
	}
	if e.Sender == "" || e.Seq == 0 {
		return nil, fmt.Errorf("sender and seq (from 1) are required")
	}
	if (e.Kind == KindHeartbeat || e.Kind == KindInterval) && (e.Boot == "" || len(e.Boot) > 64) {
		return nil, fmt.Errorf("boot: an agent's message needs its process's boot id (1 to 64 characters)")
	}
	bodies := 0
	for _, present := range []bool{e.Heartbeat != nil, e.Assign != nil, e.Cancel != nil, e.Interval != nil,
		e.MeshSyncEvent != nil, e.MeshSyncControl != nil} {
		if present {
			bodies++
		}
	}
	ok := bodies == 1
	switch e.Kind {
	case KindHeartbeat:
		ok = ok && e.Heartbeat != nil && e.Heartbeat.Agent == e.Sender
	case KindAssign:
		ok = ok && e.Assign != nil && e.Assign.Config != nil && e.Assign.Run != "" && e.Assign.Agent != "" &&
			e.Assign.Of >= 1 && e.Assign.Shard >= 0 && e.Assign.Shard < e.Assign.Of
	case KindCancel:
		ok = ok && e.Cancel != nil && e.Cancel.Run != ""
	case KindInterval:
		ok = ok && e.Interval != nil && e.Interval.Run != "" && e.Interval.Agent == e.Sender &&
			e.Interval.Interval.Index >= 0 && e.Interval.Interval.Requests >= 0 &&
			e.Interval.Interval.Successes >= 0 && e.Interval.Interval.Successes <= e.Interval.Interval.Requests
	default:
		return nil, fmt.Errorf("unknown kind %q", e.Kind)
	}
	if !ok {
		return nil, fmt.Errorf("a %s message with a missing, extra or inconsistent body", e.Kind)
	}
	return &e, nil
}

// Dedup remembers the highest sequence seen per sender process (sender and boot), so
// a replayed or redelivered message is recognised while a restarted sender, counting
// again from 1 under a new boot id, is not. It is not safe for concurrent use.
type Dedup struct{ last map[dedupKey]uint64 }

type dedupKey struct{ sender, boot string }

// Fresh reports whether e is new (and records it); false for a repeat or an older one.
func (d *Dedup) Fresh(e *Envelope) bool {
	if d.last == nil {
		d.last = map[dedupKey]uint64{}
	}
	k := dedupKey{e.Sender, e.Boot}
	if e.Seq <= d.last[k] {
		return false
	}
	d.last[k] = e.Seq
	return true
}

// Forget drops what is remembered of sender (every boot): a sender that is gone costs
// no memory.
func (d *Dedup) Forget(sender string) {
	for k := range d.last {
		if k.sender == sender {
			delete(d.last, k)
		}
	}
}

// NewBoot returns a random boot id for this process.
func NewBoot() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}
