// Package client talks to a meshperf server's API for the CLI: typed calls, the one
// error shape, and the server-sent events of a run.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/smp"
)

// Client calls one server with one token.
type Client struct {
	Server string
	Token  string
	HTTP   *http.Client
}

// New returns a client for server (http://host:port) and token.
func New(server, token string) *Client {
	return &Client{Server: strings.TrimRight(server, "/"), Token: token, HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// Error is the server's error answer, as a Go error.
type Error = apitypes.Error

func (c *Client) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Server+path, rd)
	if err != nil {
		return err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the server at %s: %w", c.Server, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		var e struct{ Error *Error }
		if json.Unmarshal(data, &e) == nil && e.Error != nil {
			return e.Error
		}
		return &Error{Status: resp.StatusCode, Message: fmt.Sprintf("%s %s: %s", method, path, resp.Status)}
	}
	switch o := out.(type) {
	case nil:
		return nil
	case *[]byte:
		*o = data
		return nil
	default:
		return json.Unmarshal(data, out)
	}
}

// User is who a token belongs to.
type User = apitypes.User

// WhoAmI checks the token.
func (c *Client) WhoAmI(ctx context.Context) (*User, error) {
	var u User
	return &u, c.do(ctx, "GET", "/api/v1/whoami", nil, &u)
}

// Profile is a stored profile.
type Profile = apitypes.Profile

// ApplyProfile creates the profile or, when it exists, saves a new version of it. It
// returns the profile and what happened: created, updated or unchanged.
func (c *Client) ApplyProfile(ctx context.Context, name, description string, cfg *smp.TestConfig) (*Profile, string, error) {
	body := map[string]any{"name": name, "description": description, "config": cfg}
	var p Profile
	err := c.do(ctx, "POST", "/api/v1/profiles", body, &p)
	var e *Error
	if err == nil {
		return &p, "created", nil
	}
	if !asError(err, &e) || e.Status != http.StatusConflict {
		return nil, "", err
	}
	var before Profile
	if err := c.do(ctx, "GET", "/api/v1/profiles/"+url.PathEscape(name), nil, &before); err != nil {
		return nil, "", err
	}
	if err := c.do(ctx, "PUT", "/api/v1/profiles/"+url.PathEscape(name), body, &p); err != nil {
		return nil, "", err
	}
	if p.Version == before.Version {
		return &p, "unchanged", nil
	}
	return &p, "updated", nil
}

func asError(err error, e **Error) bool {
	x, ok := err.(*Error)
	if ok {
		*e = x
	}
	return ok
}

// Profiles lists profiles.
func (c *Client) Profiles(ctx context.Context) ([]Profile, error) {
	var out struct{ Items []Profile }
	return out.Items, c.do(ctx, "GET", "/api/v1/profiles", nil, &out)
}

// Profile gets one profile.
func (c *Client) Profile(ctx context.Context, name string) (*Profile, error) {
	var p Profile
	return &p, c.do(ctx, "GET", "/api/v1/profiles/"+url.PathEscape(name), nil, &p)
}

// DeleteProfile deletes a profile and returns how many results were kept.
func (c *Client) DeleteProfile(ctx context.Context, name string) (int64, error) {
	var out struct {
		ResultsKept int64 `json:"results_kept"`
	}
	return out.ResultsKept, c.do(ctx, "DELETE", "/api/v1/profiles/"+url.PathEscape(name), nil, &out)
}

// Run is a run as the server reports it.
type Run = apitypes.Run

// RunProfile starts a run of a profile with optional overrides.
func (c *Client) RunProfile(ctx context.Context, name string, overrides *smp.Overrides) (*Run, error) {
	var r Run
	var body any
	if overrides != nil {
		body = map[string]any{"overrides": overrides}
	}
	return &r, c.do(ctx, "POST", "/api/v1/profiles/"+url.PathEscape(name)+"/runs", body, &r)
}

// Run returns a run: its state and, once finished, its result's id.
func (c *Client) Run(ctx context.Context, id string) (*Run, error) {
	var r Run
	return &r, c.do(ctx, "GET", "/api/v1/runs/"+url.PathEscape(id), nil, &r)
}

// CancelRun asks the server to stop a run.
func (c *Client) CancelRun(ctx context.Context, id string) error {
	return c.do(ctx, "POST", "/api/v1/runs/"+id+"/cancel", nil, nil)
}

// Event is one server-sent event of a run.
type Event struct {
	Type string
	Data json.RawMessage
}

// Follow streams a run's events to fn until "end" (or ctx ends).
func (c *Client) Follow(ctx context.Context, runID string, fn func(Event)) error {
	req, err := http.NewRequestWithContext(ctx, "GET", c.Server+"/api/v1/runs/"+runID+"/events", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "text/event-stream")
	hc := *c.HTTP
	hc.Timeout = 0 // a stream lasts as long as the run
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("following the run: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &Error{Status: resp.StatusCode, Message: "following the run: " + resp.Status}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var ev Event
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			ev.Type = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.Data = json.RawMessage(strings.TrimPrefix(line, "data: "))
		case line == "" && ev.Type != "":
			fn(ev)
			if ev.Type == "end" {
				return nil
			}
			ev = Event{}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return fmt.Errorf("the server closed the event stream before the run ended")
}

// ResultRow is a listed result.
type ResultRow = apitypes.ResultRow

// Results lists results; query holds the API's filters.
func (c *Client) Results(ctx context.Context, query url.Values) ([]ResultRow, string, error) {
	var out struct {
		Items      []ResultRow
		NextCursor string `json:"next_cursor"`
	}
	err := c.do(ctx, "GET", "/api/v1/results?"+query.Encode(), nil, &out)
	return out.Items, out.NextCursor, err
}

// ResultRaw returns a result in a format (json, yaml, csv, smp, smp-json).
func (c *Client) ResultRaw(ctx context.Context, id, format string) ([]byte, error) {
	var b []byte
	return b, c.do(ctx, "GET", "/api/v1/results/"+url.PathEscape(id)+"?format="+url.QueryEscape(format), nil, &b)
}

// ResultPanels returns the Grafana panels attached to a result's profile, linked over
// its measured window on the Grafana connection named ("": the only one).
func (c *Client) ResultPanels(ctx context.Context, id, grafana string) (*apitypes.ResultPanels, error) {
	var out apitypes.ResultPanels
	path := "/api/v1/results/" + url.PathEscape(id) + "/grafana-panels"
	if grafana != "" {
		path += "?connection=" + url.QueryEscape(grafana)
	}
	return &out, c.do(ctx, "GET", path, nil, &out)
}

// Result returns a full result.
func (c *Client) Result(ctx context.Context, id string) (*smp.Result, error) {
	b, err := c.ResultRaw(ctx, id, "json")
	if err != nil {
		return nil, err
	}
	return smp.DecodeResult(b)
}

// Comparison is the server's side-by-side table.
type Comparison = apitypes.Comparison

// Compare compares results (the first is the baseline).
func (c *Client) Compare(ctx context.Context, ids []string) (*Comparison, error) {
	var out Comparison
	return &out, c.do(ctx, "GET", "/api/v1/results/compare?ids="+url.QueryEscape(strings.Join(ids, ",")), nil, &out)
}

// CreateUser makes a user (admin only) and returns its first token, shown once.
func (c *Client) CreateUser(ctx context.Context, name, role string) (*User, string, error) {
	var out struct {
		User  User   `json:"user"`
		Token string `json:"token"`
	}
	err := c.do(ctx, "POST", "/api/v1/users", map[string]string{"name": name, "role": role}, &out)
	return &out.User, out.Token, err
}

// Users lists users (admin only).
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var out struct{ Items []User }
	return out.Items, c.do(ctx, "GET", "/api/v1/users", nil, &out)
}

// CreateToken makes another token for the caller, shown once.
func (c *Client) CreateToken(ctx context.Context, name string) (string, error) {
	var out struct{ Token string }
	return out.Token, c.do(ctx, "POST", "/api/v1/tokens", map[string]string{"name": name}, &out)
}

// Schedule is a schedule as the server reports it.
type Schedule = apitypes.Schedule

// CreateSchedule makes a schedule.
func (c *Client) CreateSchedule(ctx context.Context, name, profile, cron, missed string) (*Schedule, error) {
	var s Schedule
	return &s, c.do(ctx, "POST", "/api/v1/schedules", map[string]string{"name": name, "profile": profile, "cron": cron, "missed": missed}, &s)
}

// Schedules lists schedules.
func (c *Client) Schedules(ctx context.Context) ([]Schedule, error) {
	var out struct{ Items []Schedule }
	return out.Items, c.do(ctx, "GET", "/api/v1/schedules", nil, &out)
}

// Schedule gets a schedule with its history.
func (c *Client) Schedule(ctx context.Context, name string) (*Schedule, error) {
	var s Schedule
	return &s, c.do(ctx, "GET", "/api/v1/schedules/"+url.PathEscape(name), nil, &s)
}

// ScheduleAction pauses, resumes or deletes a schedule.
func (c *Client) ScheduleAction(ctx context.Context, name, action string) error {
	switch action {
	case "delete":
		return c.do(ctx, "DELETE", "/api/v1/schedules/"+url.PathEscape(name), nil, nil)
	default:
		return c.do(ctx, "POST", "/api/v1/schedules/"+url.PathEscape(name)+"/"+action, nil, nil)
	}
}

// Agent is an agent as the server knows it.
type Agent = apitypes.Agent

// Agents lists the agents the server has heard from.
func (c *Client) Agents(ctx context.Context) ([]Agent, error) {
	var out struct{ Items []Agent }
	return out.Items, c.do(ctx, "GET", "/api/v1/agents", nil, &out)
}
