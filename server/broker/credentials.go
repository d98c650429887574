package broker

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/meshperf/meshperf/bus"
)

// Credentials issues and checks per-agent broker credentials. A credential is the
// name (or name prefix) it is for and a MAC of it under a key only the server holds:
// nothing is stored per agent, and a credential proves exactly one identity (or, for
// a deployment's replicas, the names under one prefix). Rotating the key revokes
// every credential at once.
type Credentials struct{ key []byte }

const credentialVersion = "mpa1"

// NewCredentials uses key (at least 32 bytes).
func NewCredentials(key []byte) (*Credentials, error) {
	if len(key) < 32 {
		return nil, errors.New("the agent credential key must be at least 32 bytes")
	}
	return &Credentials{key: append([]byte(nil), key...)}, nil
}

// LoadOrCreateCredentials reads the key file, or creates it (0600) with a random key.
func LoadOrCreateCredentials(path string) (c *Credentials, created bool, err error) {
	if b, err := os.ReadFile(path); err == nil {
		key, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, false, fmt.Errorf("%s: not a hex key: %w", path, err)
		}
		c, err := NewCredentials(key)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		return c, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	// O_EXCL: two replicas starting at once never end up with different keys.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateCredentials(path)
	}
	if err != nil {
		return nil, false, err
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return nil, false, err
	}
	if err := f.Close(); err != nil {
		return nil, false, err
	}
	c, err = NewCredentials(key)
	return c, true, err
}

// Issue returns the credential of the agent called name, or with prefix set, of every
// agent called name:<anything> (a deployment's replicas).
func (c *Credentials) Issue(name string, prefix bool) (string, error) {
	if err := bus.CheckAgentCredentialName(name); err != nil {
		return "", err
	}
	kind := "n"
	if prefix {
		kind = "p"
	}
	return credentialVersion + "." + kind + "." + name + "." + c.mac(kind, name), nil
}

func (c *Credentials) mac(kind, name string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("meshperf agent credential\x00" + kind + "\x00" + name))
	return hex.EncodeToString(m.Sum(nil))
}

// Allows reports whether credential proves the identity agent.
func (c *Credentials) Allows(credential, agent string) bool {
	parts := strings.Split(credential, ".")
	if len(parts) != 4 || parts[0] != credentialVersion || bus.CheckToken("agent", agent) != nil {
		return false
	}
	kind, name, mac := parts[1], parts[2], parts[3]
	switch kind {
	case "n":
		if agent != name {
			return false
		}
	case "p":
		rest, ok := strings.CutPrefix(agent, name+bus.AgentCredentialPrefixSep)
		if !ok || rest == "" {
			return false
		}
	default:
		return false
	}
	return subtle.ConstantTimeCompare([]byte(mac), []byte(c.mac(kind, name))) == 1
}

// MeshSync credentials prove one cluster (its ID, the UID of its kube-system
// namespace) for an in-cluster MeshSync. They are MACs under the same key as agents'
// but over another domain and with another version tag, so neither kind of
// credential passes for the other.
const meshSyncCredentialVersion = "mpm1"

// IssueMeshSync returns the credential of cluster's in-cluster MeshSync.
func (c *Credentials) IssueMeshSync(cluster string) (string, error) {
	if err := bus.CheckToken("cluster", cluster); err != nil {
		return "", err
	}
	return meshSyncCredentialVersion + "." + cluster + "." + c.meshSyncMAC(cluster), nil
}

func (c *Credentials) meshSyncMAC(cluster string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("meshperf meshsync credential\x00" + cluster))
	return hex.EncodeToString(m.Sum(nil))
}

// MeshSyncCluster is the cluster a MeshSync credential proves (ok false: it proves
// none, whatever it is).
func (c *Credentials) MeshSyncCluster(credential string) (cluster string, ok bool) {
	parts := strings.Split(credential, ".")
	if len(parts) != 3 || parts[0] != meshSyncCredentialVersion || bus.CheckToken("cluster", parts[1]) != nil {
		return "", false
	}
	if subtle.ConstantTimeCompare([]byte(parts[2]), []byte(c.meshSyncMAC(parts[1]))) != 1 {
		return "", false
	}
	return parts[1], true
}

// meshSyncUser names a cluster's MeshSync in the broker's logs and monitoring (its
// permissions travel with its connection, not with the name).
func meshSyncUser(cluster string) string { return "meshsync:" + cluster }

// authenticator is the embedded NATS server's client authentication: the server's own
// connection, agents proving their name with a credential, and in-cluster MeshSyncs
// proving their cluster with a token. Each is registered with permissions that name
// only itself (bus.AgentPermissions, bus.MeshSyncPermissions).
type authenticator struct {
	internalUser, internalPassword string
	creds                          *Credentials
}

func (a *authenticator) Check(c server.ClientAuthentication) bool {
	if c.Kind() == server.LEAF {
		return a.checkLeaf(c)
	}
	if c.Kind() != server.CLIENT {
		return false
	}
	o := c.GetOpts()
	if o.Username == a.internalUser {
		if subtle.ConstantTimeCompare([]byte(o.Password), []byte(a.internalPassword)) != 1 {
			return false
		}
		c.RegisterUser(&server.User{Username: a.internalUser})
		return true
	}
	if a.creds == nil {
		return false
	}
	if o.Token != "" {
		// Only MeshSync connects with a token; an agent's credential is no token.
		if o.Username != "" || o.Password != "" {
			return false
		}
		cluster, ok := a.creds.MeshSyncCluster(o.Token)
		if !ok {
			return false
		}
		p, err := bus.MeshSyncPermissions(cluster)
		if err != nil {
			return false
		}
		c.RegisterUser(&server.User{Username: meshSyncUser(cluster), Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: p.Publish},
			Subscribe: &server.SubjectPermission{Allow: p.Subscribe},
		}})
		return true
	}
	if !a.creds.Allows(o.Password, o.Username) {
		return false
	}
	p, err := bus.AgentPermissions(o.Username)
	if err != nil {
		return false
	}
	c.RegisterUser(&server.User{Username: o.Username, Permissions: &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: p.Publish},
		Subscribe: &server.SubjectPermission{Allow: p.Subscribe},
	}})
	return true
}

// leafUser names a cluster's in-cluster broker (a leaf node) in the broker's logs.
func leafUser(cluster string) string { return "leaf:" + cluster }

// checkLeaf admits a cluster's in-cluster broker dialing in as a leaf node: it proves
// its cluster with the cluster's MeshSync credential, sent as the leaf's token, and
// may carry only what that cluster's MeshSync may (bus.MeshSyncPermissions: publish
// its events, hear its control subject and its JetStream acks). The permissions are
// written from the leaf's side; nats-server turns them around for the hub.
func (a *authenticator) checkLeaf(c server.ClientAuthentication) bool {
	if a.creds == nil {
		return false
	}
	o := c.GetOpts()
	token := o.Token
	if token == "" || (o.Username != "" && o.Username != token) || o.Password != "" {
		return false
	}
	cluster, ok := a.creds.MeshSyncCluster(token)
	if !ok {
		return false
	}
	p, err := bus.MeshSyncPermissions(cluster)
	if err != nil {
		return false
	}
	c.RegisterUser(&server.User{Username: leafUser(cluster), Permissions: &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: p.Publish},
		Subscribe: &server.SubjectPermission{Allow: p.Subscribe},
	}})
	return true
}
