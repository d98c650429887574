package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// API calls a meshperf server's REST API with a token, failing loudly.
type API struct {
	URL, Token string
}

// Call sends body (JSON) and decodes the answer into out; any status of 300 or more fails.
func (a API) Call(method, path string, body, out any) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		Check(err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.URL+path, rd)
	Check(err)
	req.Header.Set("Authorization", "Bearer "+a.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	Check(err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		Check(fmt.Errorf("%s %s: %s %s", method, path, resp.Status, strings.TrimSpace(string(raw))))
	}
	Check(json.Unmarshal(raw, out))
}

// Run starts a run of cfg and decodes its result into out once it completed; a run
// that ends otherwise fails.
func (a API) Run(cfg map[string]any, out any) {
	var r struct{ ID string }
	a.Call("POST", "/api/v1/runs", map[string]any{"config": cfg}, &r)
	for {
		var st struct {
			Status   string
			ResultID string `json:"result_id"`
			Error    string
		}
		a.Call("GET", "/api/v1/runs/"+r.ID, nil, &st)
		switch st.Status {
		case "queued", "running":
			time.Sleep(200 * time.Millisecond)
			continue
		case "completed":
			a.Call("GET", "/api/v1/results/"+st.ResultID, nil, out)
			return
		}
		Check(fmt.Errorf("run %s: %s %s", r.ID, st.Status, st.Error))
	}
}
