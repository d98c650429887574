package connections

import (
	"strings"
	"testing"
)

// Every pair of states, against the table the design states: a move is allowed exactly
// when it is listed here.
func TestTransitions(t *testing.T) {
	allowed := map[[2]State]bool{
		{Discovered, Connected}: true, {Discovered, Ignored}: true, {Discovered, Deleted}: true,
		{Connected, Disconnected}: true, {Connected, Maintenance}: true, {Connected, Ignored}: true, {Connected, Deleted}: true,
		{Disconnected, Connected}: true, {Disconnected, Maintenance}: true, {Disconnected, Ignored}: true, {Disconnected, Deleted}: true,
		{Ignored, Discovered}: true, {Ignored, Connected}: true, {Ignored, Deleted}: true,
		{Maintenance, Connected}: true, {Maintenance, Disconnected}: true, {Maintenance, Ignored}: true, {Maintenance, Deleted}: true,
	}
	for _, from := range States() {
		for _, to := range States() {
			want := from == to || allowed[[2]State{from, to}]
			if got := CanTransition(from, to); got != want {
				t.Errorf("%s -> %s: allowed=%v, want %v", from, to, got, want)
			}
			if !want {
				msg := (&TransitionError{from, to}).Error()
				if !strings.Contains(msg, string(from)) || !strings.Contains(msg, string(to)) && from != Deleted {
					t.Errorf("%s -> %s: unclear refusal %q", from, to, msg)
				}
			}
		}
	}
}

func TestHealthMovesOnlyConnectedAndDisconnected(t *testing.T) {
	cases := []struct {
		from    State
		healthy bool
		want    State
	}{
		{Connected, true, Connected}, {Connected, false, Disconnected},
		{Disconnected, true, Connected}, {Disconnected, false, Disconnected},
		{Maintenance, true, Maintenance}, {Maintenance, false, Maintenance},
		{Ignored, true, Ignored}, {Ignored, false, Ignored},
		{Discovered, true, Discovered}, {Discovered, false, Discovered},
	}
	for _, c := range cases {
		if got := afterCheck(c.from, c.healthy); got != c.want {
			t.Errorf("%s healthy=%v -> %s, want %s", c.from, c.healthy, got, c.want)
		}
		if got := afterCheck(c.from, c.healthy); !CanTransition(c.from, got) {
			t.Errorf("health check moved %s -> %s, which the machine forbids", c.from, got)
		}
	}
	if Maintenance.Checked() || Ignored.Checked() || !Disconnected.Checked() || Maintenance.Usable() || !Connected.Usable() {
		t.Error("checked/usable wrong")
	}
}

func TestParseState(t *testing.T) {
	if s, err := ParseState(" Maintenance "); err != nil || s != Maintenance {
		t.Fatalf("%v %v", s, err)
	}
	if _, err := ParseState("paused"); err == nil || !strings.Contains(err.Error(), "maintenance") {
		t.Fatalf("want the list of states, got %v", err)
	}
}
