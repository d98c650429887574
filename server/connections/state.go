package connections

import (
	"fmt"
	"sort"
	"strings"
)

// State is where a connection stands.
type State string

// The states of a connection. Health checks move a connection between connected and
// disconnected by themselves; people put it in maintenance, ignore it, or delete it.
const (
	Discovered   State = "discovered"   // known from a kubeconfig, not yet in use
	Connected    State = "connected"    // in use; its health checks pass
	Disconnected State = "disconnected" // in use, but its health check failed; retried
	Ignored      State = "ignored"      // kept but left alone: no checks, no use
	Maintenance  State = "maintenance"  // kept, checks paused, nothing deployed or run on it
	Deleted      State = "deleted"      // being removed; everything stored about it is flushed
)

// transitions is the state machine: from -> the states it may go to.
var transitions = map[State][]State{
	Discovered:   {Connected, Ignored, Deleted},
	Connected:    {Disconnected, Maintenance, Ignored, Deleted},
	Disconnected: {Connected, Maintenance, Ignored, Deleted},
	Ignored:      {Discovered, Connected, Deleted},
	Maintenance:  {Connected, Disconnected, Ignored, Deleted},
	Deleted:      {},
}

// States lists every state, in the order above.
func States() []State {
	return []State{Discovered, Connected, Disconnected, Ignored, Maintenance, Deleted}
}

// ParseState reads a state by name.
func ParseState(s string) (State, error) {
	st := State(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := transitions[st]; !ok {
		names := make([]string, 0, len(transitions))
		for _, x := range States() {
			names = append(names, string(x))
		}
		return "", fmt.Errorf("unknown state %q (one of: %s)", s, strings.Join(names, ", "))
	}
	return st, nil
}

// CanTransition reports whether from may move to to. Staying put is always allowed.
func CanTransition(from, to State) bool {
	if from == to {
		return true
	}
	for _, t := range transitions[from] {
		if t == to {
			return true
		}
	}
	return false
}

// TransitionError is a refused transition; it says which moves are allowed.
type TransitionError struct{ From, To State }

func (e *TransitionError) Error() string {
	allowed := make([]string, 0, len(transitions[e.From]))
	for _, t := range transitions[e.From] {
		allowed = append(allowed, string(t))
	}
	sort.Strings(allowed)
	if len(allowed) == 0 {
		return fmt.Sprintf("a %s connection cannot change state", e.From)
	}
	return fmt.Sprintf("a %s connection cannot become %s (it can become: %s)", e.From, e.To, strings.Join(allowed, ", "))
}

// Checked reports whether periodic health checks look at a connection in this state.
func (s State) Checked() bool { return s == Connected || s == Disconnected }

// Usable reports whether runs and agent deployments may use a connection in this state.
func (s State) Usable() bool { return s == Connected }

// afterCheck is the state a health check leads to: only connected and disconnected
// move by themselves.
func afterCheck(s State, healthy bool) State {
	switch {
	case s == Connected && !healthy:
		return Disconnected
	case s == Disconnected && healthy:
		return Connected
	}
	return s
}
