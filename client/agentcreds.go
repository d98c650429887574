package client

import "context"

// AgentCredential is an agent's broker credential, shown once.
type AgentCredential struct {
	Name       string `json:"name"`
	Prefix     bool   `json:"prefix"`
	Credential string `json:"credential"`
}

// CreateAgentCredential issues the credential of the agent called name, or with
// prefix, of every agent called name:<anything> (admin).
func (c *Client) CreateAgentCredential(ctx context.Context, name string, prefix bool) (*AgentCredential, error) {
	var out AgentCredential
	return &out, c.do(ctx, "POST", "/api/v1/agents/credentials", map[string]any{"name": name, "prefix": prefix}, &out)
}
