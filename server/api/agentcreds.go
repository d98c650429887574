package api

import (
	"net/http"

	"github.com/meshperf/meshperf/server/auth"
	"github.com/meshperf/meshperf/smp"
)

type agentCredentialBody struct {
	// Name is the agent's name, or with Prefix the prefix of its replicas' names
	// (prefix:anything).
	Name   string `json:"name" yaml:"name"`
	Prefix bool   `json:"prefix" yaml:"prefix"`
}

// createAgentCredential issues one agent's broker credential (admin). It is shown once
// and kept nowhere: the broker checks it against the server's key.
func (a *API) createAgentCredential(w http.ResponseWriter, r *http.Request) {
	if a.opt.IssueAgentCredential == nil {
		writeError(w, r, http.StatusConflict, "external_broker",
			"this server uses an external NATS: agents' identities and permissions are configured there (see the README, \"Agents and the broker\")", nil)
		return
	}
	var b agentCredentialBody
	if !a.readBody(w, r, &b) {
		return
	}
	cred, err := a.opt.IssueAgentCredential(b.Name, b.Prefix)
	if err != nil {
		badInput(w, r, smp.FieldErrors{{Path: "name", Msg: err.Error()}}, "")
		return
	}
	a.log.Info("issued an agent credential", "agent", b.Name, "prefix", b.Prefix, "by", auth.Name(r.Context()))
	writeJSON(w, http.StatusCreated, map[string]any{"name": b.Name, "prefix": b.Prefix, "credential": cred})
}
