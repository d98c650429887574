package main_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshperf/meshperf/server/auth"
)

// An admin lists and revokes tokens, changes roles and deletes users from the CLI.
func TestTokenAndUserVerbs(t *testing.T) {
	srv := startServer(t, freeAddr(t), t.TempDir(), "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	t.Setenv("MESHPERF_CONFIG", filepath.Join(t.TempDir(), "config.yaml"))
	if r := meshperf(t, "login", "--server", srv.url, "--token", adminToken); r.code != 0 {
		t.Fatalf("login: %d %s", r.code, r.stderr)
	}
	r := meshperf(t, "user", "create", "bot", "--role", "editor")
	token := strings.TrimSpace(r.stdout)
	id, ok := auth.TokenID(token)
	if r.code != 0 || !ok {
		t.Fatalf("user create: %d %q %s", r.code, r.stdout, r.stderr)
	}
	r = meshperf(t, "token", "list", "--user", "bot")
	if r.code != 0 || !strings.Contains(r.stdout, id) || strings.Contains(r.stdout, token) {
		t.Fatalf("token list: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := meshperf(t, "user", "set-role", "bot", "viewer"); r.code != 0 || !strings.Contains(r.stdout, "bot is now viewer") {
		t.Errorf("set-role: %d %s %s", r.code, r.stdout, r.stderr)
	}
	var who struct{ Role string }
	if code := api(t, "GET", srv.url+"/api/v1/whoami", token, nil, &who); code != 200 || who.Role != "viewer" {
		t.Errorf("after set-role: %d %+v", code, who)
	}
	if r := meshperf(t, "token", "revoke", id); r.code != 0 {
		t.Fatalf("revoke: %d %s", r.code, r.stderr)
	}
	if code := api(t, "GET", srv.url+"/api/v1/whoami", token, nil, nil); code != 401 {
		t.Errorf("a revoked token answers %d", code)
	}
	if r := meshperf(t, "user", "delete", "bot"); r.code != 0 {
		t.Fatalf("user delete: %d %s", r.code, r.stderr)
	}
	if r := meshperf(t, "user", "list"); strings.Contains(r.stdout, "bot") {
		t.Errorf("bot still listed: %s", r.stdout)
	}
	if r := meshperf(t, "user", "delete", "admin"); r.code == 0 || !strings.Contains(r.stderr, "last admin") {
		t.Errorf("deleting the last admin: %d %s", r.code, r.stderr)
	}
}
