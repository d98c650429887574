package dashboards

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/grafana-tools/sdk"

	"github.com/meshperf/meshperf/smp"
)

// BoardRef is a board found on a Grafana.
type BoardRef struct {
	UID    string   `json:"uid"`
	Title  string   `json:"title"`
	URL    string   `json:"url"`
	Folder string   `json:"folder,omitempty"`
	Tags   []string `json:"tags,omitempty"`
}

// PanelRef is one panel of a board: what a profile keeps to show it over a run.
type PanelRef struct {
	BoardUID string `json:"board_uid"`
	PanelID  int    `json:"panel_id"`
	Title    string `json:"title"`
	Type     string `json:"type,omitempty"`
}

// client opens grafana-tools/sdk's client. credential is a token (sent as a bearer)
// or "user:password" (basic auth); it is never put into an error or a log.
func client(grafanaURL, credential string) (*sdk.Client, string, error) {
	base, err := baseURL(grafanaURL)
	if err != nil {
		return nil, "", err
	}
	if credential == "" {
		return nil, "", errors.New("credential: empty (a Grafana token or user:password)")
	}
	c, err := sdk.NewClient(base, credential, &http.Client{Timeout: 30 * time.Second})
	if err != nil {
		return nil, "", fmt.Errorf("grafana client: %w", err)
	}
	return c, base, nil
}

// CheckURL refuses what cannot be a Grafana's URL, before anything is sent to it.
func CheckURL(grafanaURL string) error {
	_, err := baseURL(grafanaURL)
	return err
}

func baseURL(grafanaURL string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(grafanaURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("grafana_url: %q is not an http(s) URL", grafanaURL)
	}
	if u.User != nil {
		return "", errors.New("grafana_url: carries credentials; give them as the credential instead")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// guard turns a panic inside the Grafana client (it dereferences optional fields of
// Grafana's answers) into an error.
func guard(what string, err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("%s: unexpected answer from Grafana (%v)", what, p)
	}
}

// Upload puts a board on a Grafana, in folder (a folder title, created when missing;
// "" for General), replacing an earlier upload of the same comparison, and returns
// the board's URL.
func Upload(ctx context.Context, grafanaURL, credential string, board *Board, folder string) (boardURL string, err error) {
	defer guard("upload", &err)
	if board == nil || len(board.JSON) == 0 {
		return "", errors.New("board: empty")
	}
	if err := Validate(board.JSON); err != nil {
		return "", fmt.Errorf("board: %w", err)
	}
	c, base, err := client(grafanaURL, credential)
	if err != nil {
		return "", err
	}
	folderID := 0
	if folder = strings.TrimSpace(folder); folder != "" {
		if folderID, err = folderNamed(ctx, c, folder); err != nil {
			return "", err
		}
	}
	st, err := c.SetRawDashboardWithParam(ctx, sdk.RawBoardRequest{Dashboard: board.JSON,
		Parameters: sdk.SetDashboardParams{FolderID: folderID, Overwrite: true}})
	if err != nil {
		return "", fmt.Errorf("uploading board %s: %w", board.UID, err)
	}
	if st.URL == nil || *st.URL == "" {
		return base + "/d/" + url.PathEscape(board.UID), nil
	}
	return base + *st.URL, nil
}

func folderNamed(ctx context.Context, c *sdk.Client, title string) (int, error) {
	folders, err := c.GetAllFolders(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing folders: %w", err)
	}
	for _, f := range folders {
		if f.Title == title {
			return f.ID, nil
		}
	}
	f, err := c.CreateFolder(ctx, sdk.Folder{Title: title})
	if err != nil {
		return 0, fmt.Errorf("folder %q: %w", title, err)
	}
	return f.ID, nil
}

// ListBoards lists a Grafana's dashboards.
func ListBoards(ctx context.Context, grafanaURL, credential string) (boards []BoardRef, err error) {
	defer guard("listing boards", &err)
	c, base, err := client(grafanaURL, credential)
	if err != nil {
		return nil, err
	}
	found, err := c.Search(ctx, sdk.SearchType(sdk.SearchTypeDashboard))
	if err != nil {
		return nil, fmt.Errorf("listing boards: %w", err)
	}
	for _, f := range found {
		boards = append(boards, BoardRef{UID: f.UID, Title: f.Title, URL: base + f.URL, Folder: f.FolderTitle, Tags: f.Tags})
	}
	return boards, nil
}

// BoardPanels reads a board's panels (those inside rows too), to attach to a profile.
func BoardPanels(ctx context.Context, grafanaURL, credential, uid string) (panels []PanelRef, err error) {
	defer guard("reading board", &err)
	if strings.TrimSpace(uid) == "" {
		return nil, errors.New("board_uid: empty")
	}
	c, _, err := client(grafanaURL, credential)
	if err != nil {
		return nil, err
	}
	raw, _, err := c.GetRawDashboardByUID(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("board %s: %w", uid, err)
	}
	return PanelsOf(uid, raw)
}

// PanelsOf lists the panels of a board's JSON, rows' panels included.
func PanelsOf(uid string, raw []byte) ([]PanelRef, error) {
	type panel struct {
		ID     int     `json:"id"`
		Title  string  `json:"title"`
		Type   string  `json:"type"`
		Panels []panel `json:"panels"`
	}
	var board struct {
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(raw, &board); err != nil {
		return nil, fmt.Errorf("board %s: %w", uid, err)
	}
	var out []PanelRef
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			out = append(out, PanelRef{BoardUID: uid, PanelID: p.ID, Title: p.Title, Type: p.Type})
		}
	}
	walk(board.Panels)
	return out, nil
}

// PanelURL shows one panel of a board over a run's window.
func PanelURL(grafanaURL, boardUID string, panelID int, from, to time.Time) (string, error) {
	base, err := baseURL(grafanaURL)
	if err != nil {
		return "", err
	}
	if boardUID == "" {
		return "", errors.New("board_uid: empty")
	}
	if !to.After(from) {
		return "", fmt.Errorf("window: %s..%s is empty", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	q := url.Values{}
	q.Set("from", strconv.FormatInt(from.UnixMilli(), 10))
	q.Set("to", strconv.FormatInt(to.UnixMilli(), 10))
	if panelID > 0 {
		q.Set("viewPanel", strconv.Itoa(panelID))
	}
	return base + "/d/" + url.PathEscape(boardUID) + "?" + q.Encode(), nil
}

// PanelLink is an attached panel shown over one run's window.
type PanelLink struct {
	PanelRef
	URL string `json:"url"`
}

// PanelLinks links the Grafana panels attached to a result's test config, each over
// the run's measured window.
func PanelLinks(grafanaURL string, r *smp.Result) ([]PanelLink, error) {
	if r == nil || r.Config == nil || len(r.Config.GrafanaPanels) == 0 {
		return nil, nil
	}
	from := r.MeasureStart
	if from.IsZero() {
		from = r.StartTime
	}
	links := make([]PanelLink, 0, len(r.Config.GrafanaPanels))
	for i, p := range r.Config.GrafanaPanels {
		u, err := PanelURL(grafanaURL, p.BoardUID, p.PanelID, from, r.EndTime)
		if err != nil {
			return nil, fmt.Errorf("grafana_panels[%d]: %w", i, err)
		}
		links = append(links, PanelLink{PanelRef: PanelRef{BoardUID: p.BoardUID, PanelID: p.PanelID, Title: p.Title}, URL: u})
	}
	return links, nil
}
