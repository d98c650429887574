package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/server/connections"
	"github.com/meshperf/meshperf/server/store"
)

// grafanaConnections gives the API its Grafana connections: server/connections cannot
// import server/api (api imports it), so the composition root translates "not found".
type grafanaConnections struct{ conns *connections.Manager }

func (g grafanaConnections) Grafana(ctx context.Context, name string) (string, string, error) {
	url, credential, err := g.conns.Grafana(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return "", "", fmt.Errorf("%w: %v", api.ErrNoGrafanaConnection, err)
	}
	return url, credential, err
}
