package bus

import (
	"fmt"
	"strings"
	"time"
)

// RunsStream is the JetStream stream that keeps every run's intervals, and
// RunsSubjects the subjects it captures.
const RunsStream = "RUNS"

// RunsSubjects are the subjects of the RUNS stream.
func RunsSubjects() []string { return []string{subjectPrefix + "runs.*.intervals.*"} }

// RunsDuplicateWindow is how long JetStream remembers message ids: an agent's retry
// of an interval it already published within it is stored once.
const RunsDuplicateWindow = 10 * time.Minute

// Bounds of the RUNS stream, so that an agent (or anyone allowed to publish) cannot
// fill the broker's disk: the oldest messages go first when a bound is reached.
const (
	// RunsMaxAge is how long intervals are kept (recovery needs them only while a
	// run is interrupted).
	RunsMaxAge = 7 * 24 * time.Hour
	// RunsMaxBytes bounds the whole stream.
	RunsMaxBytes = 1 << 30
	// RunsMaxMsgSize bounds one message: an interval with its histogram is a few KB.
	RunsMaxMsgSize = 256 << 10
	// RunsMaxMsgsPerSubject bounds one agent's intervals of one run (a day of 1 s
	// intervals from a handful of clients).
	RunsMaxMsgsPerSubject = 200_000
)

// AgentCredentialPrefixSep separates a deployment's credential prefix from each
// replica's own part in agent names ("cluster-1:meshperf-agent-7d9f-x2"): names
// issued one by one never contain it, so a prefix credential cannot claim them.
const AgentCredentialPrefixSep = ":"

// CheckAgentCredentialName checks a name (or prefix) a credential can be issued for.
func CheckAgentCredentialName(name string) error {
	if err := CheckToken("name", name); err != nil {
		return err
	}
	if len(name) > 63 || strings.Contains(name, AgentCredentialPrefixSep) {
		return fmt.Errorf("name %q: at most 63 characters, without %q", name, AgentCredentialPrefixSep)
	}
	return nil
}

// Permissions is what one kind of client may publish and subscribe to.
type Permissions struct {
	Publish   []string
	Subscribe []string
}

// AgentPermissions is everything agent may do, all of it naming the agent: announce
// itself on its heartbeat subject, publish intervals on its own subject of any run
// (the coordinator accepts them only for runs the agent was assigned), receive its
// own assignments and get replies (heartbeat answers, JetStream acks) on its own
// inbox. It cannot read other agents' assignments, speak as another agent, or reach
// JetStream's API.
func AgentPermissions(agent string) (Permissions, error) {
	hb, err := HeartbeatSubject(agent)
	if err != nil {
		return Permissions{}, err
	}
	return Permissions{
		Publish:   []string{hb, subjectPrefix + "runs.*.intervals." + agent},
		Subscribe: []string{AgentAssignments(agent), AgentInbox(agent) + ".>"},
	}, nil
}
