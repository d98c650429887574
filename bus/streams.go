package bus

import "time"

// RunsStream is the JetStream stream that keeps every run's intervals, and
// RunsSubjects the subjects it captures.
const RunsStream = "RUNS"

// RunsSubjects are the subjects of the RUNS stream.
func RunsSubjects() []string { return []string{subjectPrefix + "runs.*.intervals"} }

// RunsDuplicateWindow is how long JetStream remembers message ids: an agent's retry
// of an interval it already published within it is stored once.
const RunsDuplicateWindow = 10 * time.Minute

// AgentUser is the user name agents connect with on the embedded broker (the agent
// token is the password).
const AgentUser = "agent"

// AgentPublish lists what an agent may publish: heartbeats and intervals (with
// JetStream's acknowledgements on its inbox).
func AgentPublish() []string {
	return []string{HeartbeatSubject(), subjectPrefix + "runs.*.intervals"}
}

// AgentSubscribe lists what an agent may subscribe to: assignments and its replies.
func AgentSubscribe() []string {
	return []string{subjectPrefix + "runs.*.assign.*", "_INBOX.>"}
}
