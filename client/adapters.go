package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/meshperf/meshperf/apitypes"
)

// Adapter is a registered mesh adapter.
type Adapter = apitypes.Adapter

// Operation is a mesh operation with its per-cluster outcome.
type Operation = apitypes.Operation

// OperationEvent is one event of an operation.
type OperationEvent = apitypes.OperationEvent

// OperationRequest asks for a mesh operation.
type OperationRequest = apitypes.OperationRequest

// Adapters lists the registered adapters.
func (c *Client) Adapters(ctx context.Context) ([]Adapter, error) {
	var out struct{ Items []Adapter }
	return out.Items, c.do(ctx, "GET", "/api/v1/adapters", nil, &out)
}

// StartOperation asks the mesh's adapter for an operation on clusters.
func (c *Client) StartOperation(ctx context.Context, req OperationRequest) (*Operation, error) {
	var out Operation
	return &out, c.do(ctx, "POST", "/api/v1/operations", req, &out)
}

// Operation reads one operation.
func (c *Client) Operation(ctx context.Context, id string) (*Operation, error) {
	var out Operation
	return &out, c.do(ctx, "GET", "/api/v1/operations/"+url.PathEscape(id), nil, &out)
}

// Operations lists the latest operations (newest first).
func (c *Client) Operations(ctx context.Context, limit int) ([]Operation, error) {
	var out struct{ Items []Operation }
	q := ""
	if limit > 0 {
		q = "?limit=" + strconv.Itoa(limit)
	}
	return out.Items, c.do(ctx, "GET", "/api/v1/operations"+q, nil, &out)
}

// OperationEvents lists the stored events of an operation after a sequence.
func (c *Client) OperationEvents(ctx context.Context, id string, after int64) ([]OperationEvent, error) {
	var out struct{ Items []OperationEvent }
	return out.Items, c.do(ctx, "GET", "/api/v1/operations/"+url.PathEscape(id)+"/events?after="+strconv.FormatInt(after, 10), nil, &out)
}

// FollowOperation streams an operation's events (server-sent events) from after on,
// calling fn for each, until the operation ended; it returns the final operation.
func (c *Client) FollowOperation(ctx context.Context, id string, after int64, fn func(OperationEvent)) (*Operation, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.Server+"/api/v1/operations/"+url.PathEscape(id)+"/events?after="+strconv.FormatInt(after, 10), nil)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	req.Header.Set("Accept", "text/event-stream")
	hc := *c.HTTP
	hc.Timeout = 0 // a stream lasts as long as the operation
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("following the operation: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &Error{Status: resp.StatusCode, Message: "following the operation: " + resp.Status}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var typ, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			typ = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case line == "" && typ != "":
			switch typ {
			case "event":
				var e OperationEvent
				if err := json.Unmarshal([]byte(data), &e); err != nil {
					return nil, fmt.Errorf("an operation event: %w", err)
				}
				fn(e)
			case "end":
				var op Operation
				if err := json.Unmarshal([]byte(data), &op); err != nil {
					return nil, fmt.Errorf("the operation's end: %w", err)
				}
				return &op, nil
			}
			typ, data = "", ""
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("the server closed the event stream before the operation ended")
}
