package apitypes

// DashboardRequest asks for a Grafana board comparing results (POST /api/v1/dashboards).
type DashboardRequest struct {
	// Results are 1 to 20 result ids (or unambiguous prefixes, or run ids).
	Results []string `json:"results" yaml:"results"`
	// PrometheusDatasource is the uid of a Prometheus data source in the Grafana the
	// board is for; it adds resource panels over each run's window.
	PrometheusDatasource string `json:"prometheus_datasource,omitempty" yaml:"prometheus_datasource,omitempty"`
	Title                string `json:"title,omitempty" yaml:"title,omitempty"`
	// Connection names a Grafana connection: the board is uploaded there instead of
	// returned. Folder is the Grafana folder (default "meshperf").
	Connection string `json:"connection,omitempty" yaml:"connection,omitempty"`
	Folder     string `json:"folder,omitempty" yaml:"folder,omitempty"`
}

// DashboardUpload is where an uploaded board went.
type DashboardUpload struct {
	UID        string `json:"uid" yaml:"uid"`
	URL        string `json:"url" yaml:"url"`
	Connection string `json:"connection" yaml:"connection"`
}
